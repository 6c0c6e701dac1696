-- Users, their one API key, and their books.
-- API keys are never stored in clear: key_hash is a keyed BLAKE2b of the
-- 16 key bytes (for lookup), key_box the key sealed with a server-side key
-- (so GET /users/api_key/get/ can show it). Both keys live outside the
-- database.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	username      TEXT    NOT NULL UNIQUE,
	email         TEXT    NOT NULL DEFAULT '',
	password_hash TEXT    NOT NULL,
	is_active     INTEGER NOT NULL DEFAULT 1,
	date_joined   INTEGER NOT NULL
);

CREATE TABLE api_keys (
	user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	key_hash   BLOB    NOT NULL UNIQUE,
	key_box    BLOB    NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE books (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	title            TEXT    NOT NULL,
	author_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	publication_date TEXT    NOT NULL
);
CREATE INDEX books_author ON books(author_id, id);
