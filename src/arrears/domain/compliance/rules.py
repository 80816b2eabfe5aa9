"""The rule functions: one small pure function per kind of rule, parameterised by the packs.

Each function takes the request :class:`Context`, the :class:`RuleSpec` (citation, params, effect)
and the instant ``t`` at which to judge, and returns a :class:`Hit` when the rule fires (or an
obligation), ``None`` when it passes. Temporal functions (windows, frequency) give ``until``: the
earliest instant at or after ``t`` at which they would pass, so the engine can compute
``next_allowed_at``. Nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import holidays

from arrears.domain.compliance.context import ALL_DEBTS, Context, covers
from arrears.domain.compliance.enums import (
    CONNECTED_OUTCOMES,
    PHONE_CHANNELS,
    CallOutcome,
    Channel,
    Direction,
    Outcome,
    Place,
    Role,
)
from arrears.domain.compliance.models import HistoryEvent, TimeRange
from arrears.domain.compliance.packs import RuleSpec
from arrears.domain.compliance.zones import day_window, in_window, local_date, next_open, start_of_day, zone

__all__ = ["REGISTRY", "Hit", "validation_period_end"]


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that fired (``outcome`` set) or an obligation the contact must meet (``outcome`` None)."""

    outcome: Outcome | None
    reason: str
    reason_zh: str
    until: dt.datetime | None = None


RuleFn = Callable[[Context, RuleSpec, dt.datetime], Hit | None]
REGISTRY: dict[str, RuleFn] = {}


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        REGISTRY[name] = fn
        return fn

    return register


def _fire(spec: RuleSpec, en: str, zh: str, until: dt.datetime | None = None) -> Hit:
    return Hit(spec.effect, en, zh, until)


def _oblige(en: str, zh: str) -> Hit:
    return Hit(None, en, zh)


def _hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _fmt(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(value: int) -> dt.timedelta:
    return dt.timedelta(days=value)


# --------------------------------------------------------------------------- absolute bars


@rule("bankruptcy")
def bankruptcy(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Automatic stay while a case is pending, discharge injunction after (11 USC 362, 524)."""
    case = ctx.flags.bankruptcy
    if case is None or case.filed_on > ctx.today or (case.known_at is not None and case.known_at > ctx.now):
        return None
    if case.discharged_on is not None and case.discharged_on <= ctx.today:
        return _fire(
            spec,
            f"Debtor's bankruptcy was discharged on {case.discharged_on}: the discharge injunction bars collection.",
            f"债务人的破产已于{case.discharged_on}免责，免责禁令禁止催收。",
        )
    return _fire(
        spec,
        f"Debtor filed for bankruptcy on {case.filed_on}: collection is stayed.",
        f"债务人已于{case.filed_on}申请破产，催收须中止。",
    )


@rule("written_cease")
def written_cease(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """A written refusal or request to cease ends communication; an oral one goes to review."""
    at = ctx.flags.cease_requested_at
    if at is None or at > ctx.now:
        return None
    if ctx.flags.cease_in_writing:
        return _fire(
            spec,
            f"Debtor asked in writing on {_fmt(at)} that communication cease.",
            f"债务人已于{_fmt(at)}书面要求停止联系。",
        )
    return Hit(
        Outcome(str(spec.params.get("oral_effect", "review"))),
        f"Debtor asked orally on {_fmt(at)} that communication cease; not binding until in writing, "
        "but further contact may be harassment.",
        f"债务人已于{_fmt(at)}口头要求停止联系；在书面提出前不具约束力，但继续联系可能构成骚扰。",
    )


@rule("attorney")
def attorney(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Known attorney representation: talk to the attorney only."""
    rep = ctx.flags.attorney
    if (
        rep is None
        or rep.consented_to_direct_contact
        or (rep.known_at is not None and rep.known_at > ctx.now)
    ):
        return None
    who = rep.name or "an attorney"
    return _fire(
        spec,
        f"Debtor is represented by {who} on this debt; communicate with the attorney only.",
        f"债务人已委托律师（{rep.name or '律师'}）处理此债务，只能与律师联系。",
    )


def _assumed_receipt(sent_on: dt.date, business_days: int) -> dt.date:
    # 12 CFR 1006.34(b)(5): receipt may be assumed at least five days after providing the
    # notice, excluding legal public holidays, Saturdays and Sundays.
    day = sent_on
    counted = 0
    while counted < business_days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in _us_holidays(day.year):
            counted += 1
    return day


@lru_cache(maxsize=32)
def _us_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("US", years=year)


def validation_period_end(sent_on: dt.date, *, receipt_days: int = 5, period_days: int = 30) -> dt.date:
    """Last day of the Reg F validation period for a notice provided on ``sent_on``."""
    return _assumed_receipt(sent_on, receipt_days) + _days(period_days)


@rule("dispute")
def dispute(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """A dispute awaiting verification suspends collection of that debt."""
    need_writing = bool(spec.params.get("require_writing", False))
    within_vp = bool(spec.params.get("within_validation_period", False))
    for debt_id in ctx.debt_ids:
        debt = ctx.debts.get(debt_id)
        if debt is None or debt.dispute is None:
            continue
        claim = debt.dispute
        if claim.received_at > ctx.now or (need_writing and not claim.in_writing):
            continue
        if debt.verification_sent_at is not None and debt.verification_sent_at <= ctx.now:
            continue
        if within_vp and debt.validation_notice_sent_on is not None:
            end = validation_period_end(debt.validation_notice_sent_on)
            if ctx.local(claim.received_at) > end:
                continue
        kind = "written " if claim.in_writing else ""
        return _fire(
            spec,
            f"Debt {debt_id} has a {kind}dispute received {_fmt(claim.received_at)} with no verification "
            "sent yet: collection of it is suspended.",
            f"债务{debt_id}已于{_fmt(claim.received_at)}收到异议，尚未寄送核实材料，须暂停对其催收。",
        )
    return None


@rule("breathing_space")
def breathing_space(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Debt Respite Scheme moratorium: no contact to request payment."""
    moratorium = ctx.flags.breathing_space
    if moratorium is None:
        return None
    end = moratorium.end_on or moratorium.start_on + _days(int(spec.params.get("standard_days", 60)) - 1)
    if not moratorium.start_on <= ctx.today <= end:
        return None
    return _fire(
        spec,
        f"Debtor is in a breathing-space moratorium from {moratorium.start_on} to {end}.",
        f"债务人处于债务喘息期保护（{moratorium.start_on}至{end}），不得联系要求还款。",
    )


@rule("deceased")
def deceased(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """The debtor has died: deal with the estate's representative, never the debtor's contacts as debtor."""
    if not ctx.flags.deceased:
        return None
    return _fire(
        spec,
        "Debtor is deceased: contact the executor, administrator or estate representative instead.",
        "债务人已身故：应联系遗产管理人或继承人，不得再以债务人为对象催收。",
    )


@rule("opt_out")
def opt_out(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """A medium or address the person asked not to be used."""
    channels = spec.params.get("channel_family") or {}
    for item in ctx.flags.opt_outs:
        if item.at > ctx.now:
            continue
        same_channel = item.channel is None or item.channel is ctx.channel
        if not same_channel and item.channel is not None:
            family = tuple(channels.get(item.channel.value) or ())
            same_channel = ctx.channel.value in family
        if not same_channel:
            continue
        if item.contact_point is not None and item.contact_point != ctx.request.proposed.contact_point:
            continue
        what = item.channel.value if item.channel else "any channel"
        where = f" at {item.contact_point}" if item.contact_point else ""
        return _fire(
            spec,
            f"Debtor opted out of {what}{where} on {_fmt(item.at)}.",
            f"债务人已于{_fmt(item.at)}要求不再通过{what}{where}联系。",
        )
    return None


@rule("statute_barred_asserted")
def statute_barred_asserted(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """The customer said they will not pay because the debt is statute-barred."""
    at = ctx.flags.statute_barred_asserted_at
    if at is None or at > ctx.now:
        return None
    return _fire(
        spec,
        f"Debtor said on {_fmt(at)} the debt is statute-barred: stop demanding payment.",
        f"债务人已于{_fmt(at)}表示债务已过诉讼时效，应停止要求还款。",
    )


# --------------------------------------------------------------------------- place and recipient


@rule("employer_prohibits")
def employer_prohibits(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """No contact at a workplace whose employer prohibits it."""
    if not ctx.flags.employer_prohibits_contact or ctx.point is None or ctx.point.place is not Place.WORK:
        return None
    return _fire(
        spec,
        f"Contact point {ctx.point.id} is at the debtor's workplace and the employer prohibits such contact.",
        f"联系方式{ctx.point.id}属于债务人工作单位，且雇主禁止此类联系。",
    )


@rule("work_email")
def work_email(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """No email to an employer-provided address unless the debtor used it or consented."""
    point = ctx.point
    if point is None or point.place is not Place.WORK:
        return None
    used = any(
        e.direction is Direction.INBOUND and e.channel is Channel.EMAIL and e.contact_point == point.id
        for e in ctx.person_events
    )
    if used:
        return None
    return _fire(
        spec,
        f"Email address {point.id} is provided by the debtor's employer and the debtor has not used it with us.",
        f"电子邮箱{point.id}由债务人雇主提供，且债务人未曾用其与我方联系。",
    )


@rule("public_social")
def public_social(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """No message viewable by the public or the person's contacts."""
    return _fire(
        spec,
        "A public social-media message can be seen by the general public or the person's contacts.",
        "社交媒体公开信息可被公众或其联系人看到，不得使用。",
    )


def _lost_contact(ctx: Context) -> bool:
    """失联: flagged, or the debtor's own numbers are dead, or three consecutive attempts failed."""
    if ctx.flags.lost_contact:
        return True
    debtor_id = ctx.request.debtor.id
    calls = [
        e
        for e in ctx.history
        if ctx.event_person(e) == debtor_id
        and e.direction is Direction.OUTBOUND
        and e.channel in PHONE_CHANNELS
    ]
    phones = [cp.id for cp in ctx.request.debtor.contact_points if cp.kind.value == "phone"]
    if phones:
        last: dict[str, CallOutcome] = {}
        for event in calls:
            if event.contact_point is not None and event.contact_point in phones:
                last[event.contact_point] = event.outcome
        dead = {CallOutcome.INVALID_NUMBER, CallOutcome.NOT_IN_SERVICE}
        if len(last) == len(phones) and all(outcome in dead for outcome in last.values()):
            return True
    needed = 3
    if len(calls) < needed:
        return False
    recent = calls[-needed:]
    if any(e.outcome is CallOutcome.CONVERSATION for e in recent):
        return False
    # Any contact from the debtor since the first of those attempts means they are reachable.
    return not any(
        ctx.event_person(e) == debtor_id and e.direction is Direction.INBOUND and e.at >= recent[0].at
        for e in ctx.history
    )


@rule("cn_contact_gate")
def cn_contact_gate(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """GB/T 45251 and CBA 2026: contacts only when the debtor is 失联, dead or lacks capacity."""
    person = ctx.person
    if person is None:
        return None
    if person.volunteered_to_pay or (person.role is Role.SPOUSE and person.debt_related):
        return None
    if ctx.flags.deceased or _lost_contact(ctx):
        return _oblige(
            "Third party may be asked only for the debtor's contact details or to pass on a message; "
            "never disclose the debt.",
            "只能向第三方询问债务人的联系方式或请其转告，不得透露任何债务信息。",
        )
    return _fire(
        spec,
        f"{person.id} ({person.role.value}) may be contacted only when the debtor cannot be reached (失联) "
        "or has died; the debtor is reachable.",
        f"{person.id}（{person.role.value}）仅在债务人失联或身故等情形下方可联系；目前债务人可联系。",
    )


@rule("third_party_refused")
def third_party_refused(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """A contact who refused, or asked not to be contacted again, is not contacted."""
    person = ctx.person
    if person is None or person.refused_contact_at is None or person.refused_contact_at > ctx.now:
        return None
    return _fire(
        spec,
        f"{person.id} refused further contact on {_fmt(person.refused_contact_at)}.",
        f"{person.id}已于{_fmt(person.refused_contact_at)}明确拒绝再被联系。",
    )


@rule("us_location_contact")
def us_location_contact(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """12 CFR 1006.10: location-information contacts only, once, never after an attorney is known."""
    person = ctx.person
    if person is None:
        return None
    rep = ctx.flags.attorney
    if rep is not None and (rep.known_at is None or rep.known_at <= ctx.now):
        return _fire(
            spec,
            "Debtor has an attorney: location information may be sought only from the attorney.",
            "债务人已委托律师：只能向律师了解其下落信息。",
        )
    if person.refused_contact_at is not None and person.refused_contact_at <= ctx.now:
        return _fire(
            spec,
            f"{person.id} asked not to be contacted again on {_fmt(person.refused_contact_at)}.",
            f"{person.id}已于{_fmt(person.refused_contact_at)}要求不再被联系。",
        )
    spoke = [
        e
        for e in ctx.person_events
        if e.direction is Direction.OUTBOUND and e.outcome is CallOutcome.CONVERSATION
    ]
    if spoke:
        return _fire(
            spec,
            f"{person.id} was already contacted for location information on {_fmt(spoke[-1].at)}; "
            "a third party may be contacted only once.",
            f"已于{_fmt(spoke[-1].at)}就下落信息联系过{person.id}；第三方只能联系一次。",
        )
    return _oblige(
        "Location call only: identify yourself, say you are confirming or correcting location information, "
        "never state that the consumer owes a debt.",
        "仅限查询下落：须表明身份并说明是核实联系信息，不得提及消费者欠债。",
    )


def _discloses(ctx: Context) -> tuple[str, ...]:
    report = ctx.content
    if report is None:
        return ()
    return report.matches("debt_disclosure") + report.matches("collector_disclosure")


@rule("third_party_disclosure")
def third_party_disclosure(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """The debt is never disclosed to third parties."""
    person = ctx.person
    if person is None:
        return None
    if spec.params.get("exempt_debt_related") and (
        person.volunteered_to_pay or (person.role is Role.SPOUSE and person.debt_related)
    ):
        return None
    if ctx.content is None:
        return _oblige(
            f"Do not disclose the debt to {person.id} ({person.role.value}).",
            f"不得向{person.id}（{person.role.value}）透露债务信息。",
        )
    words = _discloses(ctx)
    if not words:
        return None
    return _fire(
        spec,
        f"Message to {person.id} ({person.role.value}) discloses the debt ({', '.join(words)}).",
        f"发给{person.id}（{person.role.value}）的内容透露了债务信息（{'、'.join(words)}）。",
    )


@rule("identity_verified")
def identity_verified(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Debt details only once the person is established to be the borrower."""
    verified = ctx.flags.identity_verified
    if verified:
        return None
    if ctx.content is not None and _discloses(ctx) and verified is False:
        return _fire(
            spec,
            "Message discloses debt details but the recipient's identity has not been verified.",
            "内容透露债务细节，但尚未核实对方即为借款人本人。",
        )
    return _oblige(
        "Establish that the person is the borrower before disclosing debt details.",
        "透露债务细节前须确认对方为借款人本人。",
    )


@rule("recording_required")
def recording_required(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Collection calls are recorded and the records kept."""
    keep = spec.params.get("retention_years", 2)
    if ctx.request.proposed.recording is False:
        return _fire(
            spec,
            f"Collection calls must be recorded (kept at least {keep} years); recording is off.",
            f"催收过程须录音并至少保存{keep}年；当前未开启录音。",
        )
    if ctx.request.proposed.recording is None:
        return _oblige(
            f"Record the call and keep the recording at least {keep} years.",
            f"须全程录音并至少保存{keep}年。",
        )
    return None


@rule("artificial_voice_consent")
def artificial_voice_consent(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Artificial or prerecorded voice to a mobile needs prior express consent."""
    if not ctx.request.proposed.ai_voice:
        return None
    consent = ctx.flags.artificial_voice_consent_at
    if consent is not None and consent <= ctx.now:
        return None
    if ctx.point is not None and ctx.point.place not in {Place.MOBILE, Place.OTHER}:
        return None
    return _oblige(
        "An artificial-voice call to a mobile number needs the debtor's prior express consent.",
        "向手机号码拨打人工智能语音电话须事先取得债务人的明确同意。",
    )


@rule("electronic_consent")
def electronic_consent(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Emails, texts and private messages only after the consumer's consent."""
    consent = ctx.flags.electronic_consent_at
    if consent is not None and consent <= ctx.now:
        return None
    return _fire(
        spec,
        f"A {ctx.channel.value} needs the consumer's prior consent to electronic communications; none on file.",
        f"发送{ctx.channel.value}须事先取得消费者对电子通信的同意；目前无记录。",
    )


# --------------------------------------------------------------------------- content


@rule("content_prohibited")
def content_prohibited(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Refuses text in any of ``params.categories``."""
    report = ctx.content
    if report is None:
        return None
    found = [(c, report.matches(c)) for c in spec.params.get("categories", ()) if report.has(c)]
    if not found:
        return None
    en = "; ".join(f"{c.replace('_', ' ')}: {', '.join(m)}" for c, m in found)
    zh = "；".join(f"{_ZH_CATEGORY.get(c, c)}：{'、'.join(m)}" for c, m in found)
    return _fire(spec, f"Message contains prohibited content ({en}).", f"内容含禁止性表述（{zh}）。")


_ZH_CATEGORY = {
    "threat": "威胁恐吓",
    "violence": "暴力",
    "insult": "侮辱谩骂",
    "impersonation": "冒充公检法或政府机关",
    "false_legal_threat": "虚假法律威胁",
    "suit_threat": "诉讼威胁",
    "induce_borrowing": "诱导借贷还款",
    "overshadowing": "妨碍异议权利",
    "debt_disclosure": "债务信息",
    "collector_disclosure": "催收身份声明",
    "opt_out": "退订说明",
    "identity": "自报身份",
    "callback": "回拨号码",
    "reply_request": "请求回复",
}

_REQUIRED_TEXT = {
    "collector_disclosure": (
        "the debt-collector disclosure (attempting to collect a debt / from a debt collector)",
        "债务催收人身份声明",
    ),
    "opt_out": ("a clear and simple way to opt out of further electronic messages", "简便的退订方式"),
    "identity": ("the collector's identity", "催收人员自报家门"),
    "callback": ("a callback number", "回拨电话号码"),
    "reply_request": ("a request to reply", "请求回复的表述"),
}


@rule("content_required")
def content_required(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Requires every category in ``params.require`` (obligation when no text is given)."""
    required = tuple(spec.params.get("require", ()))
    report = ctx.content
    if report is None:
        en = ", ".join(_REQUIRED_TEXT[c][0] for c in required)
        zh = "、".join(_REQUIRED_TEXT[c][1] for c in required)
        return _oblige(f"The message must include {en}.", f"内容须包含{zh}。")
    name = ctx.request.proposed.collector_name
    missing = []
    for category in required:
        present = report.has(category)
        if (
            category == "identity"
            and name
            and name.casefold() in (ctx.request.proposed.content or "").casefold()
        ):
            present = True
        if not present:
            missing.append(category)
    if not missing:
        return None
    return _fire(
        spec,
        f"Message is missing {', '.join(_REQUIRED_TEXT[c][0] for c in missing)}.",
        f"内容缺少{'、'.join(_REQUIRED_TEXT[c][1] for c in missing)}。",
    )


@rule("limited_content_voicemail")
def limited_content_voicemail(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """A voicemail must be a limited-content message: reply request, callback, nothing about the debt."""
    report = ctx.content
    if report is None:
        return _oblige(
            "Leave only a limited-content message: a business name that does not indicate debt collection, "
            "a request to reply, a person's name and a callback number.",
            "语音留言仅限有限内容：不体现催收的公司名、请回电、联系人姓名和回拨号码。",
        )
    problems = []
    if _discloses(ctx):
        problems.append(("mentions the debt or debt collection", "提及债务或催收"))
    for category in ("reply_request", "callback"):
        if not report.has(category):
            problems.append((f"lacks {_REQUIRED_TEXT[category][0]}", f"缺少{_REQUIRED_TEXT[category][1]}"))
    if not problems:
        return None
    return _fire(
        spec,
        f"Voicemail is not a limited-content message: {'; '.join(p[0] for p in problems)}.",
        f"语音留言不符合有限内容要求：{'；'.join(p[1] for p in problems)}。",
    )


def _time_barred(ctx: Context) -> list[str]:
    return [
        d
        for d in ctx.debt_ids
        if (debt := ctx.debts.get(d)) is not None
        and debt.limitation_expires_on is not None
        and debt.limitation_expires_on < ctx.today
    ]


@rule("time_barred_suit")
def time_barred_suit(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """No threatening to sue on a time-barred debt."""
    report = ctx.content
    if report is None or not report.has("suit_threat"):
        return None
    barred = _time_barred(ctx)
    if not barred:
        return None
    return _fire(
        spec,
        f"Message threatens legal action ({', '.join(report.matches('suit_threat'))}) on time-barred debt "
        f"{', '.join(barred)}.",
        f"内容以诉讼相威胁（{'、'.join(report.matches('suit_threat'))}），但债务{'、'.join(barred)}已过诉讼时效。",
    )


@rule("overshadowing")
def overshadowing(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """During the validation period nothing may overshadow the dispute rights."""
    report = ctx.content
    if report is None or not report.has("overshadowing"):
        return None
    live = [
        d
        for d in ctx.debt_ids
        if (debt := ctx.debts.get(d)) is not None
        and debt.validation_notice_sent_on is not None
        and debt.validation_notice_sent_on
        <= ctx.today
        <= validation_period_end(debt.validation_notice_sent_on)
    ]
    if not live:
        return None
    return _fire(
        spec,
        f"Message overshadows the dispute rights ({', '.join(report.matches('overshadowing'))}) during the "
        f"validation period of {', '.join(live)}.",
        f"在债务{'、'.join(live)}的核实期内，内容妨碍消费者的异议权利（{'、'.join(report.matches('overshadowing'))}）。",
    )


# --------------------------------------------------------------------------- time windows


def _ranges(items: Iterable[TimeRange]) -> tuple[tuple[dt.time, dt.time], ...]:
    return tuple((r.start, r.end) for r in items)


def _zones(ctx: Context, spec: RuleSpec) -> tuple[str, ...]:
    fixed = spec.params.get("zone")
    return (str(fixed),) if fixed else ctx.zones


def _outside(
    ctx: Context, zones: tuple[str, ...], window: tuple[tuple[int, int], ...], t: dt.datetime
) -> str:
    bad = [z for z in zones if not in_window(t, zone(z), window)]
    return ", ".join(f"{t.astimezone(zone(z)).strftime('%H:%M')} in {z}" for z in bad)


@rule("time_window")
def time_window(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Contact only inside the local window, in every plausible zone (consented hours widen it)."""
    params = spec.params
    start, end = str(params["start"]), str(params["end"])
    allowed: tuple[tuple[dt.time, dt.time], ...] = ((_hhmm(start), _hhmm(end)),)
    if params.get("honour_consented_hours", True):
        allowed += _ranges(ctx.flags.consented_hours)
    if params.get("consent_call_exempt", False) and ctx.channel in PHONE_CHANNELS:
        minutes = int(params.get("consent_call_minutes", 60))
        if ctx.consent_covering(t, tolerance=dt.timedelta(minutes=minutes)) is not None:
            return None
    window = day_window(allowed)
    zones = _zones(ctx, spec)
    nxt = next_open(t, zones, window)
    if nxt == t:
        return None
    where = _outside(ctx, zones, window, t)
    if nxt is None:
        return Hit(
            Outcome.REVIEW,
            f"No instant in the next two weeks is inside {start}–{end} in every plausible zone ({', '.join(zones)}).",
            f"未来两周内不存在在所有可能时区（{', '.join(zones)}）均处于{start}–{end}的时间。",
        )
    return _fire(
        spec,
        f"Local time {where} is outside the allowed window {start}–{end}; next allowed {_fmt(nxt)}.",
        f"当地时间（{where}）不在允许的{start}–{end}时段内；最早可于{_fmt(nxt)}联系。",
        nxt,
    )


@rule("inconvenient_times")
def inconvenient_times(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Times the debtor said are inconvenient, in every plausible zone."""
    stated = ctx.flags.inconvenient_times
    if not stated or (not ctx.is_debtor and ctx.role is not Role.SPOUSE):
        return None
    window = day_window(((dt.time(0), dt.time(0)),), _ranges(stated))
    nxt = next_open(t, ctx.zones, window)
    if nxt == t:
        return None
    spans = ", ".join(f"{r.start.strftime('%H:%M')}–{r.end.strftime('%H:%M')}" for r in stated)
    if nxt is None:
        return Hit(
            Outcome.REVIEW,
            f"Debtor finds every time inconvenient ({spans}).",
            f"债务人表示所有时段均不便（{spans}）。",
        )
    return _fire(
        spec,
        f"Debtor said {spans} is inconvenient ({_outside(ctx, ctx.zones, window, t)}); next allowed {_fmt(nxt)}.",
        f"债务人表示{spans}不便联系；最早可于{_fmt(nxt)}联系。",
        nxt,
    )


@rule("holiday_quiet")
def holiday_quiet(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """House option: no contact on a public holiday of the debtor's country."""
    country = str(spec.params.get("country") or ctx.request.debtor.jurisdiction.split("-")[0])
    day = local_date(t, ctx.tz)
    calendar = holidays.country_holidays("GB" if country == "UK" else country, years=(day.year, day.year + 1))
    if day not in calendar:
        return None
    nxt = day
    while nxt in calendar:
        nxt += _days(1)
    until = start_of_day(nxt, ctx.tz)
    return _fire(
        spec,
        f"{day} is a public holiday ({calendar.get(day)}); next allowed {_fmt(until)}.",
        f"{day}为法定节假日（{calendar.get(day)}）；最早可于{_fmt(until)}联系。",
        until,
    )


# --------------------------------------------------------------------------- frequency


def _cap_until(dates: list[dt.date], cap: int, window_days: int, day: dt.date) -> tuple[int, dt.date | None]:
    """Count of dates in the window of ``window_days`` ending ``day``; the first free day if at cap."""
    first = day - _days(window_days)
    inside = sorted((d for d in dates if d > first), reverse=True)
    if len(inside) < cap:
        return len(inside), None
    return len(inside), inside[cap - 1] + _days(window_days)


def _rolling_until(
    instants: list[dt.datetime], cap: int, hours: int, t: dt.datetime
) -> tuple[int, dt.datetime | None]:
    span = dt.timedelta(hours=hours)
    inside = sorted((a for a in instants if a > t - span), reverse=True)
    if len(inside) < cap:
        return len(inside), None
    return len(inside), inside[cap - 1] + span


def _connected_calls(ctx: Context) -> list[HistoryEvent]:
    """Outbound telephone attempts to the person that connected to the dialed number (any debt)."""
    key = "connected_calls"
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = [
            e
            for e in ctx.person_events
            if e.direction is Direction.OUTBOUND
            and e.channel in PHONE_CHANNELS
            and e.outcome in CONNECTED_OUTCOMES
        ]
    return found  # type: ignore[return-value]


def _regf_calls(ctx: Context, debt: str) -> list[HistoryEvent]:
    # 1006.14(b)(3): calls not connected to the dialed number, and calls placed with prior
    # consent, are excluded; unanswered and voicemail calls are connected and count.
    key = ("regf_calls", debt)
    found = ctx.memo.get(key)
    if found is None:
        consents = bool(ctx.consents)
        found = ctx.memo[key] = [
            e
            for e in _connected_calls(ctx)
            if covers(e, debt) and not (consents and ctx.call_was_consented(e))
        ]
    return found  # type: ignore[return-value]


def _conversations(ctx: Context, debt: str) -> list[HistoryEvent]:
    """Telephone conversations with the person about ``debt``, either side starting them."""
    key = ("conversations", debt)
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = [
            e
            for e in ctx.person_events
            if e.channel is Channel.CALL and e.outcome is CallOutcome.CONVERSATION and covers(e, debt)
        ]
    return found  # type: ignore[return-value]


def _event_dates(ctx: Context, key: object, events: list[HistoryEvent]) -> list[dt.date]:
    """Local dates (primary zone) of ``events``, computed once per request under ``key``."""
    found = ctx.memo.get(key)
    if found is None:
        local = ctx.local
        found = ctx.memo[key] = [local(e.at) for e in events]
    return found  # type: ignore[return-value]


def _debt_label(debt: str) -> str:
    return "the account" if debt == ALL_DEBTS else f"debt {debt}"


@rule("regf_frequency")
def regf_frequency(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """12 CFR 1006.14(b)(2)(i)(A): at most N calls in N consecutive days, per person and per debt."""
    if ctx.consent_covering(t) is not None:
        return None
    cap = int(spec.params["max_calls"])
    mode = str(spec.params.get("window_mode", "calendar_days"))
    worst: tuple[dt.datetime, str, int] | None = None
    for debt in ctx.debt_ids:
        calls = _regf_calls(ctx, debt)
        if mode == "rolling_hours":
            count, free_at = _rolling_until([e.at for e in calls], cap, int(spec.params["window_hours"]), t)
            until = free_at
        else:
            days = int(spec.params["window_days"])
            count, free_day = _cap_until(
                _event_dates(ctx, ("regf_dates", debt), calls), cap, days, ctx.local(t)
            )
            until = None if free_day is None else start_of_day(free_day, ctx.tz)
        if until is not None and (worst is None or until > worst[0]):
            worst = (until, debt, count)
    if worst is None:
        return None
    until, debt, count = worst
    consent = ctx.next_consent_instant(t)
    if consent is not None and consent < until:
        until = consent
    span = (
        f"{spec.params['window_hours']} hours"
        if mode == "rolling_hours"
        else f"{spec.params['window_days']} consecutive days"
    )
    return _fire(
        spec,
        f"{count} calls to {ctx.person_id} about {_debt_label(debt)} in {span}; the limit is {cap}. "
        f"Next allowed {_fmt(until)}.",
        f"{span}内已就{_debt_label(debt)}致电{ctx.person_id}{count}次，上限为{cap}次；最早可于{_fmt(until)}致电。",
        until,
    )


@rule("regf_cooldown")
def regf_cooldown(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """12 CFR 1006.14(b)(2)(i)(B): no call for 7 days after a telephone conversation (either side started)."""
    if ctx.consent_covering(t) is not None:
        return None
    mode = str(spec.params.get("window_mode", "calendar_days"))
    worst: tuple[dt.datetime, str, HistoryEvent] | None = None
    for debt in ctx.debt_ids:
        talks = _conversations(ctx, debt)
        if not talks:
            continue
        last = talks[-1]
        if mode == "rolling_hours":
            until = last.at + dt.timedelta(hours=int(spec.params["window_hours"]))
        else:
            until = start_of_day(ctx.local(last.at) + _days(int(spec.params["window_days"])), ctx.tz)
        if until > t and (worst is None or until > worst[0]):
            worst = (until, debt, last)
    if worst is None:
        return None
    until, debt, last = worst
    consent = ctx.next_consent_instant(t)
    if consent is not None and consent < until:
        until = consent
    who = "the consumer" if last.direction is Direction.INBOUND else "the collector"
    return _fire(
        spec,
        f"Telephone conversation with {ctx.person_id} about {_debt_label(debt)} on {ctx.local(last.at)} "
        f"(started by {who}); no calls until {_fmt(until)}.",
        f"已于{ctx.local(last.at)}就{_debt_label(debt)}与{ctx.person_id}通话（由{'消费者' if who == 'the consumer' else '催收方'}发起）；"
        f"{_fmt(until)}前不得再致电。",
        until,
    )


@rule("regf_pattern")
def regf_pattern(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Comment 14(b)(2)(i)-2: presumptively compliant calls that still look like harassment go to review."""
    if t != ctx.now:
        return None
    calls = _connected_calls(ctx)
    gap = spec.params.get("min_gap_minutes")
    if gap and calls and t - calls[-1].at < dt.timedelta(minutes=int(gap)):
        return _fire(
            spec,
            f"Previous call to {ctx.person_id} was less than {gap} minutes ago.",
            f"距上次致电{ctx.person_id}不足{gap}分钟。",
        )
    limit = spec.params.get("aggregate_calls")
    if limit:
        first = ctx.local(t) - _days(int(spec.params.get("window_days", 7)) - 1)
        total = sum(1 for d in _event_dates(ctx, "connected_dates", calls) if d >= first) + 1
        if total > int(limit):
            return _fire(
                spec,
                f"{total} calls to {ctx.person_id} across all debts in 7 days (above {limit}): "
                "presumptively compliant per debt, but review the pattern.",
                f"7天内就全部债务致电{ctx.person_id}共{total}次（超过{limit}次）：按单笔债务推定合规，但需人工复核。",
            )
    return None


def _same_day(
    ctx: Context, events: Iterable[HistoryEvent], t: dt.datetime, tz_name: str
) -> list[HistoryEvent]:
    tz = zone(tz_name)
    day = local_date(t, tz)
    return [e for e in events if local_date(e.at, tz) == day]


def _next_day(t: dt.datetime, tz_name: str) -> dt.datetime:
    tz = zone(tz_name)
    return start_of_day(local_date(t, tz) + _days(1), tz)


@rule("cn_effective_conversations")
def cn_effective_conversations(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """GB/T 45251—2025: at most 3 collector-initiated effective conversations a day, AI voice included."""
    tz_name = str(spec.params.get("zone", "Asia/Shanghai"))
    cap = int(spec.params["max_per_day"])
    talks = [
        e
        for e in ctx.person_events
        if e.direction is Direction.OUTBOUND
        and e.channel is Channel.CALL
        and e.outcome is CallOutcome.CONVERSATION
    ]
    today = _same_day(ctx, talks, t, tz_name)
    if len(today) < cap:
        return None
    until = _next_day(t, tz_name)
    ai = sum(1 for e in today if e.ai_voice)
    return _fire(
        spec,
        f"{len(today)} collector-initiated effective conversations with the debtor today ({ai} by AI voice); "
        f"the daily limit is {cap}. Next allowed {_fmt(until)}.",
        f"今日已与债务人进行{len(today)}次主动有效通话（其中AI语音{ai}次），每日上限{cap}次；最早可于{_fmt(until)}致电。",
        until,
    )


_UNANSWERED = frozenset(
    {
        CallOutcome.NO_ANSWER,
        CallOutcome.BUSY,
        CallOutcome.VOICEMAIL,
        CallOutcome.VOICEMAIL_MESSAGE,
        CallOutcome.NOT_IN_SERVICE,
        CallOutcome.INVALID_NUMBER,
    }
)


@rule("cn_unanswered")
def cn_unanswered(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """CBA 2026: unanswered attempts to one contact method should not exceed 6 a day."""
    point = ctx.request.proposed.contact_point
    if point is None:
        return None
    tz_name = str(spec.params.get("zone", "Asia/Shanghai"))
    cap = int(spec.params["max_per_day"])
    misses = [
        e
        for e in ctx.history
        if e.direction is Direction.OUTBOUND
        and e.channel in PHONE_CHANNELS
        and e.contact_point == point
        and e.outcome in _UNANSWERED
    ]
    today = _same_day(ctx, misses, t, tz_name)
    if len(today) < cap:
        return None
    until = _next_day(t, tz_name)
    return _fire(
        spec,
        f"{len(today)} unanswered calls to {point} today; at most {cap} a day. Next allowed {_fmt(until)}.",
        f"今日已对{point}拨打{len(today)}次未接通，每日不宜超过{cap}次；最早可于{_fmt(until)}拨打。",
        until,
    )


def _bucket_cap(
    ctx: Context,
    spec: RuleSpec,
    t: dt.datetime,
    events: list[HistoryEvent],
    cap: int,
    window_days: int,
    what: str,
    what_zh: str,
    per_debt: bool = True,
) -> Hit | None:
    worst: tuple[dt.datetime, str, int] | None = None
    for debt in ctx.debt_ids if per_debt else (ALL_DEBTS,):
        dates = [ctx.local(e.at) for e in events if covers(e, debt)]
        count, free = _cap_until(dates, cap, window_days, local_date(t, ctx.tz))
        if free is not None:
            until = start_of_day(free, ctx.tz)
            if worst is None or until > worst[0]:
                worst = (until, debt, count)
    if worst is None:
        return None
    until, debt, count = worst
    label = _debt_label(debt) if per_debt else "the debtor"
    return _fire(
        spec,
        f"{count} {what} for {label} in {window_days} days; the limit is {cap}. Next allowed {_fmt(until)}.",
        f"{window_days}天内{what_zh}已达{count}次，上限{cap}次；最早可于{_fmt(until)}联系。",
        until,
    )


_MA_COUNTED = frozenset(
    {
        CallOutcome.CONVERSATION,
        CallOutcome.VOICEMAIL,
        CallOutcome.VOICEMAIL_MESSAGE,
        CallOutcome.THIRD_PARTY_ANSWERED,
        CallOutcome.DELIVERED,
    }
)


@rule("ma_calls")
def ma_calls(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Massachusetts: 2 initiated calls or texts per 7 days to personal numbers, 2 per 30 days elsewhere.

    An attempt counts when a message could have been left (Watkins v. Glenn Assocs.); attempts
    where that was truly impossible (busy, not in service, unanswered with no voicemail) do not.
    """
    if not ctx.is_debtor:
        return None
    work = ctx.point is not None and ctx.point.place is Place.WORK
    points = ctx.points

    def in_bucket(event: HistoryEvent) -> bool:
        point = points.get(event.contact_point or "")
        return (point is not None and point.place is Place.WORK) == work

    events = [
        e
        for e in ctx.person_events
        if e.direction is Direction.OUTBOUND
        and e.channel in {Channel.CALL, Channel.SMS, Channel.VOICEMAIL_MESSAGE}
        and e.outcome in _MA_COUNTED
        and in_bucket(e)
    ]
    if work:
        cap, days = int(spec.params["other_max"]), int(spec.params["other_days"])
        what, what_zh = "calls or texts to other (work) numbers", "对工作等其他号码的电话或短信"
    else:
        cap, days = int(spec.params["personal_max"]), int(spec.params["personal_days"])
        what, what_zh = "calls or texts to residence or mobile numbers", "对住宅或手机号码的电话或短信"
    return _bucket_cap(ctx, spec, t, events, cap, days, what, what_zh)


@rule("visits_cap")
def visits_cap(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """At most N household visits per debt in a window (visits where no one was met excluded)."""
    events = [
        e
        for e in ctx.history
        if e.channel is Channel.VISIT
        and e.direction is Direction.OUTBOUND
        and e.outcome in {CallOutcome.CONVERSATION, CallOutcome.THIRD_PARTY_ANSWERED}
    ]
    return _bucket_cap(
        ctx,
        spec,
        t,
        events,
        int(spec.params["max_visits"]),
        int(spec.params["window_days"]),
        "visits",
        "上门",
    )


_COMMUNICATED = frozenset({CallOutcome.CONVERSATION, CallOutcome.VOICEMAIL_MESSAGE, CallOutcome.DELIVERED})


@rule("wa_communications")
def wa_communications(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Washington: more than 3 communications a week with the debtor or spouse (1 at work) is harassing."""
    spouses = {p.id for p in ctx.request.persons if p.role is Role.SPOUSE}
    people = {ctx.request.debtor.id, *spouses}
    events = [
        e
        for e in ctx.history
        if ctx.event_person(e) in people and e.direction is Direction.OUTBOUND and e.outcome in _COMMUNICATED
    ]
    days = int(spec.params["window_days"])
    hit = _bucket_cap(
        ctx,
        spec,
        t,
        events,
        int(spec.params["max_per_week"]),
        days,
        "communications with the debtor or spouse",
        "与债务人或其配偶的联系",
        per_debt=False,
    )
    if hit is not None:
        return hit
    if ctx.point is None or ctx.point.place is not Place.WORK:
        return None
    work_ids = {cp.id for cp in ctx.points.values() if cp.place is Place.WORK}
    at_work = [e for e in events if e.contact_point in work_ids]
    return _bucket_cap(
        ctx,
        spec,
        t,
        at_work,
        int(spec.params["max_work_per_week"]),
        days,
        "communications at the workplace",
        "在工作单位的联系",
        per_debt=False,
    )


@rule("account_cap")
def account_cap(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """Per-account cap on outbound contacts or attempts over ``params.channels`` in a window."""
    channels = frozenset(Channel(c) for c in spec.params["channels"])
    if ctx.channel not in channels:
        return None
    events = [e for e in ctx.history if e.direction is Direction.OUTBOUND and e.channel in channels]
    return _bucket_cap(
        ctx,
        spec,
        t,
        events,
        int(spec.params["max_contacts"]),
        int(spec.params["window_days"]),
        str(spec.params.get("label", "contacts or attempts")),
        str(spec.params.get("label_zh", "联系或尝试联系")),
    )


@rule("daily_attempts")
def daily_attempts(ctx: Context, spec: RuleSpec, t: dt.datetime) -> Hit | None:
    """House option: at most N outbound attempts to the person per local day, any channel."""
    events = [e for e in ctx.person_events if e.direction is Direction.OUTBOUND]
    today = _same_day(ctx, events, t, ctx.primary)
    cap = int(spec.params["max_per_day"])
    if len(today) < cap:
        return None
    until = _next_day(t, ctx.primary)
    return _fire(
        spec,
        f"{len(today)} attempts to {ctx.person_id} today; house limit is {cap}. Next allowed {_fmt(until)}.",
        f"今日已联系{ctx.person_id}{len(today)}次，公司上限{cap}次；最早可于{_fmt(until)}联系。",
        until,
    )
