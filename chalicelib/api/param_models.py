"""pydantic models of the request parameters, DERIVED from the declarations in api/params.py, and the admin body.

Built on first use (`pydantic_model(params.X)`): by api/openapi.py for the document's parameters, and by
api/params.py when its plain validator hands a request over (every error names the parameter in
pydantic's words, api/errors.py). A request served normally never imports this module (cold start).

`Query` is also the base of the query models other packages declare directly in pydantic
(chalicelib/webhooks/api.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    field_validator,
)

from chalicelib.api import params as p
from chalicelib.core.fees import MAX_FEE, MIN_FEE

DexName = Annotated[str, StringConstraints(pattern=p.DEX_PATTERN), BeforeValidator(p.lower),
                    Field(description="DEX name, e.g. hyperliquid (case-insensitive)", examples=["hyperliquid"])]
SymbolName = Annotated[str, StringConstraints(pattern=p.SYMBOL_PATTERN), BeforeValidator(p.upper),
                       Field(description="Normalized base asset, e.g. BTC (case-insensitive)", examples=["BTC"])]
DexList = Annotated[list[Annotated[str, Field(pattern=p.DEX_PATTERN)]], BeforeValidator(p.csv),
                    Field(min_length=1, max_length=p.MAX_DEXES, description="Comma-separated DEX names, e.g. lighter,edgex")]
FractionIn = Annotated[Decimal, BeforeValidator(p.fraction)]


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class Path(BaseModel):
    model_config = ConfigDict(defer_build=True)


def _annotation(param: p.Param) -> Any:
    kind = param.kind
    if kind == p.CHOICE:
        return Literal[param.choices]
    return {p.DEX: DexName, p.SYMBOL: SymbolName, p.DEXES: DexList, p.DECIMAL: Decimal, p.FRACTION: FractionIn,
            p.INT: int, p.BOOL: bool, p.DATETIME: datetime}[kind]


def _field(param: p.Param) -> tuple[Any, Any]:
    annotation = _annotation(param)
    if param.default is None:
        annotation = annotation | None
    options: dict[str, Any] = {}
    if param.ge is not None:
        options["ge"] = param.ge
    if param.le is not None:
        options["le"] = param.le
    if param.kind in (p.DECIMAL, p.FRACTION):
        options["allow_inf_nan"] = False
    if param.aliases:
        options["validation_alias"] = AliasChoices(param.name, *param.aliases)
    if param.description is not None:
        options["description"] = param.description
    return annotation, Field(param.default, **options)


@cache
def pydantic_model(model: Any) -> type[BaseModel]:
    """The pydantic model of a params.Params class (a pydantic model is returned as is)."""
    if not (isinstance(model, type) and issubclass(model, p.Params)):
        return model
    fields = {name: _field(param) for name, param in model.FIELDS.items()}
    times = [name for name, param in model.FIELDS.items() if param.kind == p.DATETIME]
    validators = {"utc_times": field_validator(*times)(p.utc)} if times else {}
    base = Query if issubclass(model, p.Query) else Path
    return create_model(model.__name__, __base__=base, __module__=__name__, __validators__=validators,  # type: ignore[call-overload]
                        **fields)


# ---- admin body -------------------------------------------------------------------------
# Bounds shared with the core validation (core.fees), so a fee the API accepts is one storage reads back.
Fee = Annotated[Decimal, Field(ge=MIN_FEE, le=MAX_FEE, allow_inf_nan=False)]


class FeeTierBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    min_volume_30d: Decimal = Field(ge=0, le=Decimal("1e15"), allow_inf_nan=False)
    max_volume_30d: Decimal | None = Field(None, ge=0, le=Decimal("1e15"), allow_inf_nan=False)
    maker_fee: Fee
    taker_fee: Fee


class FeeStructureBody(BaseModel):
    """SPEC DEXFeeStructure: fees as fractions of notional (0.0002 = 0.02 %)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    maker_fee_percent: Fee = Field(description="Maker fee as a fraction (0.0002 = 0.02 %); negative = rebate")
    taker_fee_percent: Fee = Field(description="Taker fee as a fraction")
    has_fee_tiers: bool = False
    fee_tiers: list[FeeTierBody] | None = Field(None, max_length=50)

    @field_validator("fee_tiers")
    @classmethod
    def _ordered(cls, tiers: list[FeeTierBody] | None) -> list[FeeTierBody] | None:
        for prev, tier in zip(tiers or [], (tiers or [])[1:], strict=False):
            if prev.max_volume_30d is None or tier.min_volume_30d < prev.max_volume_30d:
                raise ValueError("fee tiers must be ordered by volume and must not overlap")
        for tier in tiers or []:
            if tier.max_volume_30d is not None and tier.max_volume_30d <= tier.min_volume_30d:
                raise ValueError("a tier's max_volume_30d must exceed its min_volume_30d")
        return tiers

    def model_post_init(self, _: Any) -> None:
        if self.has_fee_tiers and not self.fee_tiers:
            raise ValueError("has_fee_tiers is true but fee_tiers is empty")
