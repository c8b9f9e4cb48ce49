-- 0015_edgex_v2_url: /dexes showed EdgeX's V1 base URL (the 0003 seed) while the collector reads V2.
-- Source: EdgeX python SDK README (edgex-Tech/edgex-python-sdk, 2026-06-11): "The main branch contains the current
-- EdgeX V2 SDK. The legacy V1 SDK has moved to the v1 branch and is deprecated"; default base
-- https://edgex-prod-v2.edgex.exchange, paths /api/v2/public/... (/work/shared/DEX_APIS_2026-12.md §2);
-- chalicelib/venues/edgex.py default_base_url. Checked 2026-12-02.
-- Only the untouched seed value changes: an operator who pointed the row elsewhere keeps it.
UPDATE dexes SET api_base_url = 'https://edgex-prod-v2.edgex.exchange/api/v2', updated_at = now()
WHERE name = 'edgex' AND api_base_url = 'https://pro.edgex.exchange';
