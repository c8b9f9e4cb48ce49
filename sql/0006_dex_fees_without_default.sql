-- 0006_dex_fees_without_default: a venue row never gets fees by accident.
-- Until now maker/taker defaulted to 0, so a venue missing from the seed was added at ingest with ZERO fees
-- and looked free to trade. Storage now registers an unknown venue from its module's VenueSpec (fees, display
-- name, interval, base URL, rate limit: chalicelib/storage/repository.py); an INSERT that omits the fees fails.
ALTER TABLE dexes ALTER COLUMN maker_fee_percent DROP DEFAULT;
ALTER TABLE dexes ALTER COLUMN taker_fee_percent DROP DEFAULT;
