"""Notice delivery: the outbox and its dead letters (re-send), each shop's channels, the street officers'
contacts, the owners' links (revoke, re-issue) and their appeals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from central.api.bounds import IntId
from central.api.deps import AdminUser, ReviewerUser, ScopeDep, SessionDep, SettingsDep
from central.domain import appeals, audit
from central.domain.clock import now_utc
from central.domain.scope import EVERYWHERE, Scope
from central.notices import links, outbox
from central.orm.notices import Appeal, NoticeDelivery, OfficerContact, ShopChannel
from central.orm.shops import Shop

router = APIRouter(prefix="/api", tags=["notices"])

Kind = Literal["webhook", "email", "mqtt", "webpush"]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    idempotency_key: str
    notice_id: int | None
    case_id: str | None
    shop_id: str | None
    audience: str
    route: str
    channel: str
    language: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class ChannelIn(BaseModel):
    kind: Kind
    target: str = Field(default="", max_length=1000,
                        description="webhook URL, e-mail address, MQTT topic suffix (default: the shop id)")
    secret: str = Field(default="", max_length=200, description="webhook HMAC key (required for webhooks)")
    config: dict[str, Any] | None = Field(default=None, description="Web Push subscription JSON")
    language: Literal["zh-CN", "en"] = "zh-CN"
    enabled: bool = True

    @model_validator(mode="after")
    def _complete(self) -> ChannelIn:
        if self.kind == "webhook" and (not self.target.startswith(("http://", "https://")) or len(self.secret) < 16):
            raise ValueError("a webhook needs an http(s) URL and a secret of at least 16 characters")
        if self.kind == "email" and "@" not in self.target:
            raise ValueError("an e-mail channel needs an address")
        if self.kind == "webpush" and not (self.config and self.config.get("endpoint") and self.config.get("keys")):
            raise ValueError("a Web Push channel needs the subscription (endpoint and keys) in config")
        return self


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    target: str
    language: str
    enabled: bool
    has_secret: bool = False


class OfficerIn(ChannelIn):
    area: str = Field(min_length=1, max_length=200)
    road: str = Field(default="", max_length=200, description="'' = the whole area")
    name: str = Field(default="", max_length=200)


class OfficerOut(ChannelOut):
    area: str
    road: str
    name: str


class LinkOut(BaseModel):
    shop_id: str
    url: str | None = Field(description="None while revoked")


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str
    shop_id: str
    reason: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class AppealDecision(BaseModel):
    outcome: Literal["upheld", "rejected"]
    note: str = Field("", max_length=1000, description="the reviewer's note; a rejection's goes to the owner")


def _channel_out(row: ShopChannel | OfficerContact, model: type[ChannelOut]) -> ChannelOut:
    out = model.model_validate(row)
    out.has_secret = bool(row.secret)
    return out


def _shop(session: SessionDep, shop_id: str, scope: Scope = EVERYWHERE) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None or not (scope.everywhere or scope.covers(shop)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"shop {shop_id} not found")
    return shop


# ---- the outbox -------------------------------------------------------------------------------------------

@router.get("/notices/deliveries", summary="notice deliveries, newest first (status=dead: the dead letters)")
def list_deliveries(session: SessionDep, user: ReviewerUser, scope: ScopeDep,
                    state: Annotated[Literal["pending", "sent", "dead"] | None, Query(alias="status")] = None,
                    shop_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
                    ) -> list[DeliveryOut]:
    stmt = scope.filter(select(NoticeDelivery), NoticeDelivery.shop_id).order_by(NoticeDelivery.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(NoticeDelivery.status == state)
    if shop_id:
        stmt = stmt.where(NoticeDelivery.shop_id == shop_id)
    return [DeliveryOut.model_validate(r) for r in session.scalars(stmt)]


@router.post("/notices/deliveries/{delivery_id}/resend", summary="send a dead letter again")
def resend_delivery(delivery_id: IntId, session: SessionDep, user: ReviewerUser, scope: ScopeDep) -> DeliveryOut:
    found = session.get(NoticeDelivery, delivery_id)
    scope.check_shop_id(session, found.shop_id if found else None, f"notice delivery {delivery_id}")
    row = outbox.resend(session, delivery_id)
    audit.record(session, actor=user.username, action="notice.resend", case_id=row.case_id, shop_id=row.shop_id,
                 at=now_utc(), details={"delivery_id": row.id, "key": row.idempotency_key})
    session.commit()
    return DeliveryOut.model_validate(row)


# ---- where notices go -------------------------------------------------------------------------------------

@router.get("/shops/{shop_id}/channels", summary="a shop's notice channels")
def list_channels(shop_id: str, session: SessionDep, user: ReviewerUser, scope: ScopeDep) -> list[ChannelOut]:
    _shop(session, shop_id, scope)
    rows = session.scalars(select(ShopChannel).where(ShopChannel.shop_id == shop_id).order_by(ShopChannel.id))
    return [_channel_out(r, ChannelOut) for r in rows]


@router.post("/shops/{shop_id}/channels", status_code=201, summary="add a notice channel to a shop")
def add_channel(shop_id: str, body: ChannelIn, session: SessionDep, user: AdminUser) -> ChannelOut:
    _shop(session, shop_id)
    row = ShopChannel(shop_id=shop_id, **body.model_dump())
    session.add(row)
    session.commit()
    return _channel_out(row, ChannelOut)


@router.delete("/shops/{shop_id}/channels/{channel_id}", status_code=204, summary="remove a shop's channel")
def delete_channel(shop_id: str, channel_id: IntId, session: SessionDep, user: AdminUser) -> None:
    row = session.get(ShopChannel, channel_id)
    if row is None or row.shop_id != shop_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {channel_id} of shop {shop_id} not found")
    session.delete(row)
    session.commit()


@router.get("/officer-contacts", summary="street officers and how they are reached")
def list_officers(session: SessionDep, user: ReviewerUser) -> list[OfficerOut]:
    return [_channel_out(r, OfficerOut) for r in session.scalars(select(OfficerContact).order_by(OfficerContact.id))]


@router.post("/officer-contacts", status_code=201, summary="add a street officer contact")
def add_officer(body: OfficerIn, session: SessionDep, user: AdminUser) -> OfficerOut:
    row = OfficerContact(**body.model_dump())
    session.add(row)
    session.commit()
    return _channel_out(row, OfficerOut)


@router.delete("/officer-contacts/{contact_id}", status_code=204, summary="remove a street officer contact")
def delete_officer(contact_id: IntId, session: SessionDep, user: AdminUser) -> None:
    row = session.get(OfficerContact, contact_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"officer contact {contact_id} not found")
    session.delete(row)
    session.commit()


# ---- owner links --------------------------------------------------------------------------------------------

@router.get("/shops/{shop_id}/owner-link", summary="the shop owner's current link")
def get_owner_link(shop_id: str, session: SessionDep, settings: SettingsDep, user: ReviewerUser,
                   scope: ScopeDep) -> LinkOut:
    _shop(session, shop_id, scope)
    url = links.owner_url(session, settings, shop_id)
    session.commit()
    return LinkOut(shop_id=shop_id, url=url)


@router.post("/shops/{shop_id}/owner-link", summary="issue a new owner link; every earlier one stops working")
def reissue_owner_link(shop_id: str, session: SessionDep, settings: SettingsDep, user: AdminUser) -> LinkOut:
    _shop(session, shop_id)
    url = links.reissue(session, settings, shop_id, actor=user.username)
    audit.record(session, actor=user.username, action="owner_link.reissue", shop_id=shop_id, at=now_utc(),
                 details={})
    session.commit()
    return LinkOut(shop_id=shop_id, url=url)


@router.delete("/shops/{shop_id}/owner-link", summary="revoke the owner link (until one is re-issued)")
def revoke_owner_link(shop_id: str, session: SessionDep, user: AdminUser) -> LinkOut:
    _shop(session, shop_id)
    links.revoke(session, shop_id, actor=user.username)
    audit.record(session, actor=user.username, action="owner_link.revoke", shop_id=shop_id, at=now_utc(),
                 details={})
    session.commit()
    return LinkOut(shop_id=shop_id, url=None)


# ---- appeals --------------------------------------------------------------------------------------------------

@router.get("/appeals", summary="owners' appeals (status=open: the review queue)")
def list_appeals(session: SessionDep, user: ReviewerUser, scope: ScopeDep,
                 state: Annotated[Literal["open", "upheld", "rejected"] | None, Query(alias="status")] = "open"
                 ) -> list[AppealOut]:
    stmt = scope.filter(select(Appeal), Appeal.shop_id).order_by(Appeal.id)
    if state:
        stmt = stmt.where(Appeal.status == state)
    return [AppealOut.model_validate(a) for a in session.scalars(stmt)]


@router.post("/appeals/{appeal_id}/decide", summary="uphold or reject an appeal")
def decide_appeal(appeal_id: IntId, body: AppealDecision, session: SessionDep, settings: SettingsDep,
                  user: ReviewerUser, scope: ScopeDep) -> AppealOut:
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or not (scope.everywhere or scope.covers(session.get(Shop, appeal.shop_id))):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"appeal {appeal_id} not found")
    # upheld: the case is annulled, its strike stops counting, the shop is regraded (central.domain.appeals);
    # DomainError → 404 / 409 by the app's handler
    appeal = appeals.decide(session, appeal_id, outcome=body.outcome, actor=user.username, settings=settings,
                            note=body.note)
    session.commit()
    return AppealOut.model_validate(appeal)
