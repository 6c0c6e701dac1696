-- migrations/0002_cache_epoch.sql in PostgreSQL's dialect: the counters
-- the caches are valid under, bumped by triggers in the changing
-- transaction. Each bump also sends a notification on channel
-- keygate_epoch ('k' for keys and users, else the author's id), which
-- PostgreSQL delivers to every listening keygate, on every host, only once
-- the transaction commits.
CREATE TABLE keygate_epoch (
	id INT    PRIMARY KEY,
	n  BIGINT NOT NULL
);
INSERT INTO keygate_epoch (id, n) SELECT i, 0 FROM generate_series(0, 64) AS i;

CREATE FUNCTION keygate_epoch_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = 0;
	PERFORM pg_notify('keygate_epoch', 'k');
	RETURN NULL;
END $$;

CREATE FUNCTION keygate_epoch_books() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		UPDATE keygate_epoch SET n = n + 1 WHERE id = OLD.author_id % 64 + 1;
		PERFORM pg_notify('keygate_epoch', OLD.author_id::text);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		UPDATE keygate_epoch SET n = n + 1 WHERE id = NEW.author_id % 64 + 1;
		PERFORM pg_notify('keygate_epoch', NEW.author_id::text);
	END IF;
	RETURN NULL;
END $$;

-- TRUNCATE fires no row trigger: every author's row moves (the readers'
-- once-a-second look finds it; the notification says keys, which makes
-- every listener look at once).
CREATE FUNCTION keygate_epoch_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE keygate_epoch SET n = n + 1;
	PERFORM pg_notify('keygate_epoch', 'k');
	RETURN NULL;
END $$;

CREATE TRIGGER keygate_epoch_users AFTER UPDATE OF id, is_active OR DELETE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION keygate_epoch_keys();
CREATE TRIGGER keygate_epoch_keys AFTER UPDATE OR DELETE ON api_keys
	FOR EACH STATEMENT EXECUTE FUNCTION keygate_epoch_keys();
CREATE TRIGGER keygate_epoch_books AFTER INSERT OR UPDATE OR DELETE ON books
	FOR EACH ROW EXECUTE FUNCTION keygate_epoch_books();
CREATE TRIGGER keygate_epoch_truncate AFTER TRUNCATE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION keygate_epoch_all();
CREATE TRIGGER keygate_epoch_truncate AFTER TRUNCATE ON api_keys
	FOR EACH STATEMENT EXECUTE FUNCTION keygate_epoch_all();
CREATE TRIGGER keygate_epoch_truncate AFTER TRUNCATE ON books
	FOR EACH STATEMENT EXECUTE FUNCTION keygate_epoch_all();
