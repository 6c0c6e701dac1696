-- migrations/0003_user_tier.sql in PostgreSQL's dialect: a user's tier,
-- whose change moves the keys epoch (and notifies) as a disable does.
ALTER TABLE users ADD COLUMN tier TEXT NOT NULL DEFAULT '';

DROP TRIGGER keygate_epoch_users ON users;
CREATE TRIGGER keygate_epoch_users AFTER UPDATE OF id, is_active, tier OR DELETE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION keygate_epoch_keys();
