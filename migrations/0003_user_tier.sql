-- A user's tier ([tier NAME] in the configuration: their windows); '' is
-- the default windows. A change of tier is a change of the user's
-- standing: it moves the keys epoch, so every cache that holds the user
-- (and so their windows) learns of it as of a disable.
ALTER TABLE users ADD COLUMN tier TEXT NOT NULL DEFAULT '';

DROP TRIGGER keygate_epoch_user_update;
CREATE TRIGGER keygate_epoch_user_update AFTER UPDATE OF id, is_active, tier ON users
BEGIN
	UPDATE keygate_epoch SET n = n + 1 WHERE id = 0;
END;
