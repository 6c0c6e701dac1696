-- The schema of migrations/0001_init.sql in PostgreSQL's dialect; the two
-- are kept side by side and tested against each other (test_postgres.py).
CREATE TABLE users (
	id            BIGSERIAL PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	email         TEXT    NOT NULL DEFAULT '',
	password_hash TEXT    NOT NULL,
	is_active     BOOLEAN NOT NULL DEFAULT TRUE,
	date_joined   BIGINT  NOT NULL
);

CREATE TABLE api_keys (
	user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	key_hash   BYTEA  NOT NULL UNIQUE,
	key_box    BYTEA  NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE books (
	id               BIGSERIAL PRIMARY KEY,
	title            TEXT   NOT NULL,
	author_id        BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	publication_date DATE   NOT NULL
);
CREATE INDEX books_author ON books(author_id, id);
