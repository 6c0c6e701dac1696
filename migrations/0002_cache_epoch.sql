-- What the caches of keygate keep (API key -> user, GET /books/ replies) is
-- valid while these counters stand. Triggers bump them in the transaction
-- that makes the change, so a change commits together with its bump, by
-- keygate or by an SQL shell alike. Row 0 counts changes of keys and of
-- users' standing (a new user's key needs none: it was never cached); rows
-- 1 to 64 count changes of books, the author's row being author_id % 64 + 1.
-- keygate reads them at most once a second per thread (store_epoch.c).
CREATE TABLE keygate_epoch (
	id INTEGER PRIMARY KEY,
	n  INTEGER NOT NULL
);
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 64)
INSERT INTO keygate_epoch (id, n) SELECT i, 0 FROM r;

CREATE TRIGGER keygate_epoch_user_update AFTER UPDATE OF id, is_active ON users
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = 0;
END;
CREATE TRIGGER keygate_epoch_user_delete AFTER DELETE ON users
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = 0;
END;
CREATE TRIGGER keygate_epoch_key_update AFTER UPDATE ON api_keys
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = 0;
END;
CREATE TRIGGER keygate_epoch_key_delete AFTER DELETE ON api_keys
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = 0;
END;
CREATE TRIGGER keygate_epoch_book_insert AFTER INSERT ON books
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = NEW.author_id % 64 + 1;
END;
CREATE TRIGGER keygate_epoch_book_update AFTER UPDATE ON books
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id IN (OLD.author_id % 64 + 1, NEW.author_id % 64 + 1);
END;
CREATE TRIGGER keygate_epoch_book_delete AFTER DELETE ON books
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = OLD.author_id % 64 + 1;
END;
