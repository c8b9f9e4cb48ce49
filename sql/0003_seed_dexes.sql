-- 0003_seed_dexes: the five venues with their BASE-tier fees (fractions of notional), mainnet
-- hosts, default funding interval and public rate limit. Sources: /work/shared/DEX_APIS.md as
-- compiled 2026-11 (checked 2026-11-24); the admin endpoint PUT /dexes/{dex}/fees updates fees.
--
--   hyperliquid  maker 0.00015 taker 0.00045  HL docs trading/fees, perps base tier (<= $5M 14d volume);
--                funding settles hourly; 1200 weight/min per IP, metaAndAssetCtxs weighs 20 -> 60/min.
--   lighter      maker 0 taker 0              apidocs.lighter.xyz/docs/account-types, Standard account;
--                Premium 0.00004/0.00028 kept in fee_metadata; hourly funding; Standard 60 req/min.
--   paradex      maker 0.00003 taker 0.0002   docs.paradex.trade/trading/trading-fee, API Standard;
--                8 h reference period; 1500 req/min per IP.
--   grvt         maker 0.00027 taker 0.00055  help.grvt.io fee model Level 1 (conservative; the gitbook
--                says 0.0003/0.0005); default 8 h interval (per market 1/4/8 h); limit not documented -> 60.
--   edgex        maker 0.0002 taker 0.00055   contract metadata defaultMakerFeeRate/defaultTakerFeeRate [U];
--                4 h interval; limit not documented -> 60.
INSERT INTO dexes (name, display_name, api_base_url, websocket_url, supports_websocket,
                   maker_fee_percent, taker_fee_percent, has_fee_tiers, fee_metadata,
                   funding_interval_hours, collection_interval_seconds, rate_limit_per_minute)
VALUES
    ('hyperliquid', 'Hyperliquid', 'https://api.hyperliquid.xyz', 'wss://api.hyperliquid.xyz/ws', FALSE,
     0.00015, 0.00045, FALSE,
     '{"source": "HL docs trading/fees, perps base tier", "checked": "2026-11-24"}', 1, 60, 60),
    ('lighter', 'Lighter', 'https://mainnet.zklighter.elliot.ai', NULL, FALSE,
     0, 0, FALSE,
     '{"source": "apidocs.lighter.xyz/docs/account-types, Standard account", "checked": "2026-11-24",
       "premium_account": {"maker_fee": 0.00004, "taker_fee": 0.00028}}', 1, 60, 60),
    ('paradex', 'Paradex', 'https://api.prod.paradex.trade', 'wss://ws.api.prod.paradex.trade/v1', FALSE,
     0.00003, 0.0002, FALSE,
     '{"source": "docs.paradex.trade/trading/trading-fee, API Standard", "checked": "2026-11-24"}', 8, 60, 1500),
    ('grvt', 'GRVT', 'https://market-data.grvt.io', 'wss://market-data.grvt.io/ws', FALSE,
     0.00027, 0.00055, FALSE,
     '{"source": "help.grvt.io fee model, Level 1 (conservative)", "checked": "2026-11-24"}', 8, 60, 60),
    ('edgex', 'EdgeX', 'https://pro.edgex.exchange', 'wss://quote.edgex.exchange', FALSE,
     0.0002, 0.00055, FALSE,
     '{"source": "getMetaData defaultMakerFeeRate/defaultTakerFeeRate", "checked": "2026-11-24"}', 4, 60, 60)
ON CONFLICT (name) DO NOTHING;

-- SPEC.md seed symbols (display names); other symbols are discovered by ingest.
INSERT INTO symbols (symbol, display_name, category) VALUES
    ('BTC', 'Bitcoin', 'crypto'),
    ('ETH', 'Ethereum', 'crypto'),
    ('SOL', 'Solana', 'crypto'),
    ('ARB', 'Arbitrum', 'crypto'),
    ('AVAX', 'Avalanche', 'crypto')
ON CONFLICT (symbol) DO NOTHING;
