-- 0014_edgex_v2_fees: EdgeX base-tier fees of the V2 API, replacing the seed of 0003 (V1 metadata, [U]).
-- Source: EdgeX V2 getMetaData contractList[].defaultMakerFeeRate "0.0004" / defaultTakerFeeRate "0.00045" on every
-- contract of tests/fixtures/venues/edgex/getMetaData.v2.2026-09-13.json (recorded 2026-09-13; AIR
-- __fixtures__/edgex-v2/getMetaData.json); /work/shared/DEX_APIS_2026-12.md §2.1 and its review of the edgex module
-- ("fees in V2 metadata are 0.00045/0.0004, not 0.00055/0.0002"); chalicelib/venues/edgex.py SPEC.fees agrees.
-- Checked 2026-12-02.
-- Only the untouched seed row changes: maker 0.0002 / taker 0.00055 AND no PUT /dexes/edgex/fees ever ran (that
-- endpoint always writes fee_metadata.tiers). An operator's PUT - even one that re-entered the seed values - is kept.
UPDATE dexes SET
    maker_fee_percent = 0.0004,
    taker_fee_percent = 0.00045,
    fee_metadata = fee_metadata || '{"source": "EdgeX V2 getMetaData defaultMakerFeeRate/defaultTakerFeeRate (recorded 2026-09-13)", "checked": "2026-12-02", "replaced_seed": {"maker_fee": 0.0002, "taker_fee": 0.00055}}'::jsonb,
    updated_at = now()
WHERE name = 'edgex'
  AND maker_fee_percent = 0.0002
  AND taker_fee_percent = 0.00055
  AND NOT (fee_metadata ? 'tiers');
