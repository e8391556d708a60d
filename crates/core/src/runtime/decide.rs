//! Deciding a command: every condition checked, every unmet one explained.

use chrono::{DateTime, Utc};
use serde::Serialize;

use smallvec::SmallVec;

use super::case::{Case, Ctx, Fields, decode_fields, valid_digest};
use super::command::{Actor, Command, DocumentRef};
use super::event::{Event, EventBody, Recorded};
use super::refusal::{Reason, ReasonKind, Refusal};
use crate::expr::{Expr, Part, Type, Value};
use crate::lang;
use crate::model::{Action, BoundPer, Meta, Node, Place, ReasonRule, TimeRuleKind};
use crate::time::{Calendar, cst_date, fmt_cst};
use std::ops::Not;

/// What the command brings, when deciding it; `None` when only asking what is possible
/// (then payload, documents and reason are not checked).
struct Given<'a> {
    payload: &'a [Option<Value>],
    documents: &'a [DocumentRef],
    /// The kind of each document of a known kind, by index.
    kinds: &'a [usize],
    reason: Option<&'a str>,
}

/// An action as a client sees it: whether the actor may take it now and, if not, why; and
/// what a form for it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionOption {
    /// The action's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its English title, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// Its basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Whether this actor may take it now (the payload, documents and reason still to be given).
    pub allowed: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// The payload's JSON Schema.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload_schema: std::sync::Arc<serde_json::Value>,
    /// The kinds of document that must be attached.
    pub documents: Vec<String>,
    /// Whether a reason must be recorded: always, because its condition holds now, or
    /// because a "generally at least" minimum has not run yet and a reason lets it through.
    pub reason_required: bool,
}

/// What deciding a command found, so that its event can be applied without reading the
/// command again.
pub(crate) struct Decided {
    /// The action's index.
    pub(crate) action: usize,
    /// The payload values that guards read (and, when asked, those `sets` reads).
    pub(crate) payload: Fields,
    /// The kind of each attached document, by index.
    pub(crate) kinds: SmallVec<[usize; 4]>,
}

impl Case {
    /// Decides a command: the event it gives, or a refusal listing every unmet condition.
    /// Deciding changes nothing; apply the event to move the case on.
    pub fn decide(&self, command: Command, calendar: &Calendar) -> Result<Event, Refusal> {
        match self.examine(&command, false, calendar) {
            Ok(_) => Ok(self.event_of(self.seq, command)),
            Err(reasons) => Err(Refusal {
                action: command.action,
                reasons,
            }),
        }
    }

    /// Decides a command and, when it is allowed, applies its event at once: the same as
    /// [`Case::decide`] then [`Case::apply`], but the command is read once. On a refusal
    /// the case is unchanged.
    pub fn decide_apply(
        &mut self,
        command: Command,
        calendar: &Calendar,
    ) -> Result<Event, Refusal> {
        let decided = match self.examine(&command, true, calendar) {
            Ok(d) => d,
            Err(reasons) => {
                return Err(Refusal {
                    action: command.action,
                    reasons,
                });
            }
        };
        let seq = self.seq;
        let procedure = self.procedure.clone();
        if let Some(a) = procedure.actions.get(decided.action) {
            self.apply_action(
                &procedure,
                decided.action,
                a,
                &decided.payload,
                &command.documents,
                decided.kinds,
                command.at,
            );
        }
        self.seq += 1;
        self.last_at = command.at;
        Ok(self.event_of(seq, command))
    }

    /// Decides a command and, when it is allowed, records its event at once: the same as
    /// [`Case::decide`] then [`Case::record`] (the event applied, serialised, hashed and
    /// made the new head), with the command read once. On a refusal the case is unchanged.
    pub fn decide_record(
        &mut self,
        command: Command,
        calendar: &Calendar,
    ) -> Result<Recorded, Refusal> {
        let event = self.decide_apply(command, calendar)?;
        let recorded = Recorded::new(event);
        self.head = recorded.hash;
        Ok(recorded)
    }

    /// The event of an allowed command, as event `seq` of this case.
    fn event_of(&self, seq: u64, command: Command) -> Event {
        Event {
            case: self.id.clone(),
            seq,
            body: EventBody::Action {
                action: command.action,
                payload: command.payload,
                documents: command.documents,
                reason: command.reason,
            },
            actor: command.actor,
            at: command.at,
            imported: command.imported,
            prev_hash: self.head,
        }
    }

    /// Every check of a command; with `for_sets`, the payload values that `sets` reads are
    /// decoded too (to apply the event at once).
    fn examine(
        &self,
        command: &Command,
        for_sets: bool,
        calendar: &Calendar,
    ) -> Result<Decided, Vec<Reason>> {
        let p = self.procedure.as_ref();
        let Some((ai, a)) = p.find_action(&command.action) else {
            let known = p.actions.iter().map(|a| a.meta.id.as_str());
            let near = crate::load::closest(&command.action, known)
                .and_then(|id| p.find_action(id))
                .map(|(_, a)| &a.meta);
            let mut r = Reason::new(
                ReasonKind::UnknownAction,
                format!(
                    "程序{}没有`{}`这一办理事项{}",
                    lang::zh(&p.meta),
                    command.action,
                    near.map(hint_zh).unwrap_or_default()
                ),
                format!(
                    "procedure `{}` has no action `{}`{}",
                    p.meta.id,
                    command.action,
                    near.map(|m| format!(" (did you mean `{}`?)", m.id))
                        .unwrap_or_default()
                ),
            );
            r.finish();
            return Err(vec![r]);
        };
        let mut reasons = Vec::new();
        let keep = |i: usize| {
            a.payload_in_guards.get(i).copied().unwrap_or(true)
                || (for_sets && a.payload_in_sets.get(i).copied().unwrap_or(true))
        };
        let payload = decode_fields(
            a.payload.iter().map(|f| (&f.meta, &f.ty, f.required)),
            &command.payload,
            "payload.",
            keep,
            &mut reasons,
        );
        let mut kinds = SmallVec::new();
        for d in &command.documents {
            let Some(kind) = p.document_index(&d.kind) else {
                let known = p.documents.iter().map(|d| d.meta.id.as_str());
                let near = crate::load::closest(&d.kind, known)
                    .and_then(|id| p.document_index(id))
                    .and_then(|k| p.documents.get(k))
                    .map(|k| &k.meta);
                let mut r = Reason::new(
                    ReasonKind::DocumentMissing,
                    format!(
                        "本程序没有`{}`这一文书种类{}",
                        d.kind,
                        near.map(hint_zh).unwrap_or_default()
                    ),
                    format!(
                        "unknown document kind `{}`{}",
                        d.kind,
                        near.map(|m| format!(" (did you mean `{}`?)", m.id))
                            .unwrap_or_default()
                    ),
                );
                r.document = Some(d.kind.clone());
                reasons.push(r);
                continue;
            };
            kinds.push(kind);
            if !valid_digest(&d.sha256) {
                let mut r = Reason::new(
                    ReasonKind::DocumentMissing,
                    format!(
                        "文书“{}”的SHA-256摘要无效（须为64位小写十六进制数字）",
                        d.name
                    ),
                    format!(
                        "document `{}` has no valid SHA-256 digest (64 lowercase hex digits)",
                        d.name
                    ),
                );
                r.document = Some(d.kind.clone());
                reasons.push(r);
            }
        }
        let given = Given {
            payload: &payload,
            documents: &command.documents,
            kinds: &kinds,
            reason: command.reason.as_deref(),
        };
        let _ = self.check(
            ai,
            a,
            &command.actor,
            command.at,
            Some(&given),
            calendar,
            &mut reasons,
        );
        if !reasons.is_empty() {
            // What nothing narrower cites (a payload field, an unknown document) cites the
            // field's article, else the action's.
            for r in reasons
                .iter_mut()
                .filter(|r| !r.is_cited() && r.kind != ReasonKind::OutOfOrder)
            {
                let field = r
                    .field
                    .as_deref()
                    .and_then(|f| f.strip_prefix("payload."))
                    .and_then(|f| a.payload.iter().find(|x| x.meta.id == f));
                r.cite_first_of(field.map(|f| &f.meta).into_iter().chain([&a.meta]));
            }
            super::refusal::finish_all(&mut reasons);
            return Err(reasons);
        }
        Ok(Decided {
            action: ai,
            payload,
            kinds,
        })
    }

    /// Every action of the procedure, with whether `actor` may take it at `at` and, if not,
    /// the same reasons [`Case::decide`] would give (payload, documents and reason aside).
    pub fn available_actions(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Vec<ActionOption> {
        let p = self.procedure.as_ref();
        let ctx = Ctx {
            case: self,
            payload: &[],
            documents: &[],
            clock: Some((at, calendar)),
        };
        p.actions
            .iter()
            .enumerate()
            .map(|(ai, a)| {
                let mut reasons = Vec::new();
                let reason_for_time = self.check(ai, a, actor, at, None, calendar, &mut reasons);
                super::refusal::finish_all(&mut reasons);
                let reason_required = reason_for_time
                    || match &a.reason {
                        ReasonRule::Optional => false,
                        ReasonRule::Required => true,
                        ReasonRule::RequiredWhen(g) => g.holds(&ctx),
                    };
                ActionOption {
                    id: a.meta.id.clone(),
                    title: a.meta.title.clone(),
                    title_en: a.meta.title_en.clone(),
                    basis: a.meta.basis.clone(),
                    allowed: reasons.is_empty(),
                    reasons,
                    payload_schema: a.payload_schema.clone(),
                    documents: a
                        .documents
                        .iter()
                        .copied()
                        .chain(
                            a.documents_when
                                .iter()
                                .filter(|(_, cond)| cond.holds(&ctx))
                                .map(|(d, _)| *d),
                        )
                        .filter_map(|d| p.documents.get(d))
                        .map(|d| d.meta.id.clone())
                        .collect(),
                    reason_required,
                }
            })
            .collect()
    }

    /// The checks shared by [`Case::decide`] and [`Case::available_actions`].
    #[expect(
        clippy::too_many_arguments,
        reason = "one private helper with the command's parts"
    )]
    fn check(
        &self,
        ai: usize,
        a: &Action,
        actor: &Actor,
        at: DateTime<Utc>,
        given: Option<&Given<'_>>,
        calendar: &Calendar,
        reasons: &mut Vec<Reason>,
    ) -> bool {
        // Whether a "generally at least" minimum that has not run yet asks for a reason (only
        // reported, not refused, when asking what is possible).
        let mut reason_for_time = false;
        let p = self.procedure.as_ref();
        if at < self.last_at {
            reasons.push(Reason::new(
                ReasonKind::OutOfOrder,
                format!(
                    "办理时间{}早于本案最后一次办理的时间{}",
                    lang::instant_zh(at),
                    lang::instant_zh(self.last_at)
                ),
                format!(
                    "the time {} is before the case's last event ({})",
                    fmt_cst(at),
                    fmt_cst(self.last_at)
                ),
            ));
        }
        // State.
        if !a.from.iter().any(|f| self.at_place(*f)) {
            let mut current = self.state().to_owned();
            let here = Place::State(self.state);
            let (mut current_zh, mut current_en) = (place_zh(p, here), place_en(p, here));
            if let Some(t) = a.track {
                let tid = p.tracks.get(t).map_or("", |t| t.meta.id.as_str());
                match self.tracks.get(t).copied().flatten() {
                    Some(s) => {
                        let place = Place::Track { track: t, state: s };
                        current = p.place_id(place);
                        current_zh = place_zh(p, place);
                        current_en = place_en(p, place);
                    }
                    None if p.tracks.get(t).is_some_and(|tr| tr.parent == self.state) => {
                        current = format!("{current} (track `{tid}` does not run)");
                        if let Some(tr) = p.tracks.get(t) {
                            current_zh = format!("{current_zh}（{}未启动）", lang::zh(&tr.meta));
                            current_en =
                                format!("{current_en} (track {} does not run)", lang::en(&tr.meta));
                        }
                    }
                    None => {}
                }
            }
            let expected: Vec<String> = a.from.iter().map(|f| p.place_id(*f)).collect();
            let expected_zh: Vec<String> = a.from.iter().map(|f| place_zh(p, *f)).collect();
            let expected_en: Vec<String> = a.from.iter().map(|f| place_en(p, *f)).collect();
            let (closed_zh, closed_en) = if self.is_closed() {
                ("；本案已办结", "; the case has ended")
            } else {
                ("", "")
            };
            let zh = format!(
                "当前阶段为{current_zh}，{}须在{}阶段办理{closed_zh}",
                lang::zh(&a.meta),
                lang::list_zh(&expected_zh, "或")
            );
            let en = format!(
                "{} may be taken in {}, but the case is in {current_en}{closed_en}",
                lang::en(&a.meta),
                lang::list_en(&expected_en, " or ")
            );
            let mut r = Reason::new(ReasonKind::WrongState, zh, en);
            match self.forbidding_invariant(ai, a) {
                Some(inv) => {
                    r = r.cite(&inv.meta);
                    r.invariant = Some(inv.meta.id.clone());
                }
                None => r = r.cite(&a.meta),
            }
            r.state = Some(current);
            r.expected = expected;
            reasons.push(r);
        }
        // How many times the law allows it.
        if let Some(b) = &a.max_times
            && (b.per == BoundPer::Case || a.from.iter().any(|f| self.at_place(*f)))
        {
            let taken = self.times_taken(ai, b.per);
            if taken >= b.n {
                let (zh, en) = match b.per {
                    BoundPer::Case => (
                        format!(
                            "{}在一个案件中至多办理{}次，本案已办理{taken}次",
                            lang::zh(&a.meta),
                            b.n
                        ),
                        format!(
                            "{} may be taken at most {} time{} in a case; it has been taken {taken} time{}",
                            lang::en(&a.meta),
                            b.n,
                            if b.n == 1 { "" } else { "s" },
                            if taken == 1 { "" } else { "s" }
                        ),
                    ),
                    BoundPer::Entry => (
                        format!(
                            "{}每进入一次所在阶段至多办理{}次，本次进入后已办理{taken}次",
                            lang::zh(&a.meta),
                            b.n
                        ),
                        format!(
                            "{} may be taken at most {} time{} each time the case enters the state it is taken in; it has been taken {taken} time{} since",
                            lang::en(&a.meta),
                            b.n,
                            if b.n == 1 { "" } else { "s" },
                            if taken == 1 { "" } else { "s" }
                        ),
                    ),
                };
                reasons.push(
                    Reason::new(ReasonKind::TooManyTimes, zh, en).cite_first([&b.meta, &a.meta]),
                );
            }
        }
        // Role.
        let allowed =
            a.by.iter()
                .filter_map(|r| p.roles.get(*r))
                .any(|role| actor.roles.contains(&role.meta.id));
        if !allowed {
            let roles: Vec<String> =
                a.by.iter()
                    .filter_map(|r| p.roles.get(*r))
                    .map(|r| r.meta.id.clone())
                    .collect();
            let may: Vec<&crate::model::Meta> =
                a.by.iter()
                    .filter_map(|r| p.roles.get(*r))
                    .map(|r| &r.meta)
                    .collect();
            let held = |name: fn(&crate::model::Meta) -> String| -> Vec<String> {
                actor
                    .roles
                    .iter()
                    .map(|id| match p.role_index(id).and_then(|r| p.roles.get(r)) {
                        Some(role) => name(&role.meta),
                        None => format!("`{id}`"),
                    })
                    .collect()
            };
            let (held_zh, held_en) = (held(lang::zh), held(lang::en));
            let zh = format!(
                "{}须由{}办理；办理人“{}”{}",
                lang::zh(&a.meta),
                if may.is_empty() {
                    "（无任何角色）".to_owned()
                } else {
                    lang::list_zh(&may.iter().map(|m| lang::zh(m)).collect::<Vec<_>>(), "或")
                },
                actor.id,
                if held_zh.is_empty() {
                    "未担任任何角色".to_owned()
                } else {
                    format!("担任的角色为{}", lang::list_zh(&held_zh, "、"))
                }
            );
            let en = format!(
                "{} may be taken by {}; `{}` holds {}",
                lang::en(&a.meta),
                if may.is_empty() {
                    "no role".to_owned()
                } else {
                    lang::list_en(&may.iter().map(|m| lang::en(m)).collect::<Vec<_>>(), ", ")
                },
                actor.id,
                if held_en.is_empty() {
                    "no role".to_owned()
                } else {
                    lang::list_en(&held_en, ", ")
                }
            );
            let mut r = Reason::new(ReasonKind::RoleNotAllowed, zh, en).cite_first(
                a.by.iter()
                    .filter_map(|r| p.roles.get(*r))
                    .map(|r| &r.meta)
                    .chain([&a.meta]),
            );
            r.roles = roles;
            reasons.push(r);
        }
        let (payload, documents) = given.map_or((&[][..], &[][..]), |g| (g.payload, g.documents));
        let ctx = Ctx {
            case: self,
            payload,
            documents,
            clock: Some((at, calendar)),
        };
        // Guard: each named condition on its own; a plain guard part by part, each citing the
        // invariant that requires it where one does.
        if a.conditions.is_empty() {
            if let Some(when) = &a.when
                && !when.holds(&ctx)
            {
                self.guard_reasons(ai, a, when, &ctx, given.is_none(), reasons);
            }
        } else {
            for c in &a.conditions {
                if c.guard.holds(&ctx) {
                    continue;
                }
                let mut failed = c
                    .guard
                    .explain_parts(&ctx, false, &|name| p.title_of(name, Some(a)));
                if given.is_none() {
                    failed.retain(|part| still_to_come(&part.falsity).not());
                    if failed.is_empty() {
                        continue;
                    }
                }
                let zh = format!(
                    "{}的条件{}不满足{}",
                    lang::zh(&a.meta),
                    lang::zh(&c.meta),
                    parts_zh(p, a, &failed, &c.guard)
                );
                let en = format!(
                    "{}: the condition {} does not hold{}",
                    lang::en(&a.meta),
                    lang::en(&c.meta),
                    parts_en(&failed, c.guard.source())
                );
                let mut r =
                    Reason::new(ReasonKind::GuardFalse, zh, en).cite_first([&c.meta, &a.meta]);
                r.condition = Some(c.meta.id.clone());
                r.failed = failed.into_iter().map(|part| part.falsity).collect();
                reasons.push(r);
            }
        }
        // Documents and reason: only when deciding a command.
        if let Some(g) = given {
            for d in &a.documents {
                let Some(kind) = p.documents.get(*d) else {
                    continue;
                };
                if !g.kinds.contains(d) {
                    let mut r = Reason::new(
                        ReasonKind::DocumentMissing,
                        format!("{}须附{}", lang::zh(&a.meta), lang::zh(&kind.meta)),
                        format!(
                            "{} needs a document of kind {}",
                            lang::en(&a.meta),
                            lang::en(&kind.meta)
                        ),
                    )
                    .cite_first([&kind.meta, &a.meta]);
                    r.document = Some(kind.meta.id.clone());
                    reasons.push(r);
                }
            }
            for (d, cond) in &a.documents_when {
                let Some(kind) = p.documents.get(*d) else {
                    continue;
                };
                if cond.holds(&ctx) && !g.kinds.contains(d) {
                    let mut r = Reason::new(
                        ReasonKind::DocumentMissing,
                        format!(
                            "{}在`{}`成立时须附{}",
                            lang::zh(&a.meta),
                            cond.source(),
                            lang::zh(&kind.meta)
                        ),
                        format!(
                            "{} needs a document of kind {} because `{}` holds",
                            lang::en(&a.meta),
                            lang::en(&kind.meta),
                            cond.source()
                        ),
                    )
                    .cite_first([&kind.meta, &a.meta]);
                    r.document = Some(kind.meta.id.clone());
                    reasons.push(r);
                }
            }
            let needs_reason = match &a.reason {
                ReasonRule::Optional => false,
                ReasonRule::Required => true,
                ReasonRule::RequiredWhen(cond) => cond.holds(&ctx),
            };
            if needs_reason && g.reason.is_none_or(|r| r.trim().is_empty()) {
                reasons.push(
                    Reason::new(
                        ReasonKind::ReasonMissing,
                        format!("办理{}须记录理由", lang::zh(&a.meta)),
                        format!("{} needs a recorded reason", lang::en(&a.meta)),
                    )
                    .cite(&a.meta),
                );
            }
        }
        // Time rules.
        for rule in &p.time_rules {
            if let Some(g) = given {
                self.check_extension_length(rule, ai, g, reasons);
            }
            if !rule.actions.contains(&ai) {
                continue;
            }
            if rule.waived(&ctx) {
                continue;
            }
            let Some(period) = self.period_of(rule, calendar, at) else {
                continue;
            };
            match rule.kind {
                TimeRuleKind::AtLeast => {
                    let earliest = crate::time::Reckoned {
                        value: period.due,
                        provisional: period.provisional,
                    };
                    if at >= earliest.value {
                        continue;
                    }
                    let has_reason = given
                        .and_then(|g| g.reason)
                        .is_some_and(|r| !r.trim().is_empty());
                    if rule.below_with_reason && (has_reason || given.is_none()) {
                        reason_for_time = true;
                        continue;
                    }
                    let (kind, how_zh, how_en) = if rule.below_with_reason {
                        (
                            ReasonKind::ReasonMissing,
                            "；提前办理须记录理由",
                            "; taking it earlier needs a recorded reason",
                        )
                    } else {
                        (ReasonKind::TooEarly, "", "")
                    };
                    let mut r = Reason::new(
                        kind,
                        format!(
                            "{}：{}，{}起方可办理{}{how_zh}",
                            lang::zh(&rule.meta),
                            lang::at_least_zh(&anchor_zh(self, period.anchor), rule.period),
                            lang::instant_zh(earliest.value),
                            lang::zh(&a.meta)
                        ),
                        format!(
                            "{} ({} after {}) runs until {}{how_en}",
                            lang::en(&rule.meta),
                            rule.period,
                            anchor_en(self, period.anchor),
                            fmt_cst(earliest.value)
                        ),
                    )
                    .cite_first([&rule.meta, &a.meta]);
                    r.rule = Some(rule.meta.id.clone());
                    r.allowed_from = Some(earliest.value);
                    r.allowed_from_date = Some(cst_date(earliest.value));
                    r.provisional = earliest.provisional;
                    reasons.push(r);
                }
                TimeRuleKind::Within => {
                    if !rule.strict {
                        continue;
                    }
                    if at < period.due {
                        continue;
                    }
                    let mut r = Reason::new(
                        ReasonKind::TooLate,
                        format!(
                            "{}：{}办理{}的期限已于{}届满",
                            lang::zh(&rule.meta),
                            lang::within_zh(&anchor_zh(self, period.anchor), rule.period),
                            lang::zh(&a.meta),
                            lang::date_zh(crate::time::china::last_day_before(period.due))
                        ),
                        format!(
                            "{} ({} after {}) ended at {}",
                            lang::en(&rule.meta),
                            rule.period,
                            anchor_en(self, period.anchor),
                            fmt_cst(period.due)
                        ),
                    )
                    .cite_first([&rule.meta, &a.meta]);
                    r.rule = Some(rule.meta.id.clone());
                    r.due = Some(period.due);
                    r.due_date = Some(crate::time::china::last_day_before(period.due));
                    r.provisional = period.provisional;
                    reasons.push(r);
                }
            }
        }
        reason_for_time
    }
}

impl Case {
    /// When `rule` takes its extension's length from the payload of action `ai`: refuses a
    /// length below 1 or above the statutory maximum (`extension`).
    fn check_extension_length(
        &self,
        rule: &crate::model::TimeRule,
        ai: usize,
        given: &Given<'_>,
        reasons: &mut Vec<Reason>,
    ) {
        let Some(cap) = rule.extension else { return };
        let Some((_, k)) = rule.extension_from.iter().find(|(a, _)| *a == ai) else {
            return;
        };
        let p = self.procedure.as_ref();
        let Some((_, f)) = p.kept_payload.get(*k) else {
            return;
        };
        let Some(crate::expr::Value::Integer(n)) = given.payload.get(*f).cloned().flatten() else {
            return;
        };
        let max = match cap {
            crate::time::Period::Days(m)
            | crate::time::Period::WorkingDays(m)
            | crate::time::Period::Hours(m)
            | crate::time::Period::Months(m) => i64::from(m),
        };
        if (1..=max).contains(&n) {
            return;
        }
        let Some(field_meta) = p
            .actions
            .get(ai)
            .and_then(|a| a.payload.get(*f))
            .map(|f| &f.meta)
        else {
            return;
        };
        let field = field_meta.id.as_str();
        let asked = super::case::with_length(cap, u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        let mut r = Reason::new(
            ReasonKind::PayloadInvalid,
            format!(
                "{}：延长{}不符合{}的规定，延长期限须为{}至{}",
                lang::zh(field_meta),
                lang::period_zh(asked),
                lang::zh(&rule.meta),
                lang::period_zh(super::case::with_length(cap, 1)),
                lang::period_zh(cap)
            ),
            format!(
                "`payload.{field}`: an extension of {asked} is not allowed by `{}`: it must be from 1 to {cap}",
                rule.meta.id
            ),
        )
        .cite(&rule.meta);
        r.field = Some(format!("payload.{field}"));
        r.rule = Some(rule.meta.id.clone());
        reasons.push(r);
    }
}

/// Whether a failing guard part reads what a command has not brought yet (its payload, its
/// attachments): when only asking what is possible, such parts are not reasons.
fn still_to_come(f: &crate::expr::Falsity) -> bool {
    f.values.iter().any(|(n, _)| n.starts_with("payload.")) || f.expression.contains("attached(")
}

/// `: \`a\`, \`b\`` — the failing parts, or the whole guard when none is named.
fn parts_en(failed: &[Part], whole: &str) -> String {
    let mut message = String::from(": ");
    if failed.is_empty() {
        message.push('`');
        message.push_str(whole);
        message.push('`');
    } else {
        push_ticked(
            &mut message,
            failed.iter().map(|part| part.falsity.expression.as_str()),
            ", ",
            "",
        );
    }
    message
}

/// `：「罚款金额」 ≥ 5000（“罚款金额”为 3000）；「听证」已完成（“听证”未设置）` — the
/// failing parts in words (titles for names, never the guard's code), each with the titles
/// of what it reads and their values, or the whole guard in words when none is named.
fn parts_zh(p: &crate::model::Procedure, a: &Action, failed: &[Part], whole: &Expr) -> String {
    if failed.is_empty() {
        return format!("：{}", whole.describe(&|name| p.title_of(name, Some(a))));
    }
    let parts: Vec<String> = failed
        .iter()
        .map(|part| {
            let read: Vec<String> = part
                .falsity
                .values
                .iter()
                .map(|(name, value)| read_zh(p, a, name, value.as_deref()))
                .collect();
            if read.is_empty() {
                part.words.clone()
            } else {
                format!("{}（{}）", part.words, read.join("，"))
            }
        })
        .collect();
    format!("：{}", parts.join("；"))
}

/// What a guard read and its value, in Chinese as the guard's words write them: a payload
/// field of `a`, a fact or a track by its title, an enum value or a track's state by its
/// title (`「审查结论」为“不合法”`), a yes-or-no as `是`/`否` (`「情节复杂」为否`), or
/// `「听证」未设置`.
fn read_zh(p: &crate::model::Procedure, a: &Action, name: &str, value: Option<&str>) -> String {
    let field = name.strip_prefix("payload.");
    let var = match field {
        Some(field) => a
            .payload
            .iter()
            .find(|f| f.meta.id == field)
            .map(|f| (&f.meta, &f.ty, &f.labels)),
        None => p.find_fact(name).map(|(_, f)| (&f.meta, &f.ty, &f.labels)),
    };
    let track = if field.is_none() && var.is_none() {
        p.find_track(name).map(|(_, t)| t)
    } else {
        None
    };
    let title = match (var, track) {
        (Some((meta, _, _)), _) => meta.title.as_str(),
        (None, Some(t)) => t.meta.title.as_str(),
        (None, None) => name,
    };
    let Some(value) = value else {
        return format!("「{title}」未设置");
    };
    let value = match (var, track) {
        (Some((_, ty, labels)), _) => match ty {
            Type::Bool if value == "true" => "是".to_owned(),
            Type::Bool if value == "false" => "否".to_owned(),
            Type::Enum(_) => format!(
                "“{}”",
                crate::model::label_of(labels, value).unwrap_or(value)
            ),
            Type::Text => format!("“{value}”"),
            _ => value.to_owned(),
        },
        (None, Some(t)) => {
            let state = t.states.iter().find(|s| s.id == value);
            format!("「{}」", state.map_or(value, |s| s.title.as_str()))
        }
        (None, None) => value.to_owned(),
    };
    format!("「{title}」为{value}")
}

/// `（是否指“受理”？）` — a suggestion in Chinese.
fn hint_zh(meta: &crate::model::Meta) -> String {
    format!("（是否指{}？）", lang::zh(meta))
}

/// A place in Chinese: `“部门协商”`, or for a track's state `“部门协商”中的“待协商”`.
fn place_zh(p: &crate::model::Procedure, place: Place) -> String {
    match place {
        Place::State(s) => p
            .states
            .get(s)
            .map_or_else(String::new, |s| lang::zh(&s.meta)),
        Place::Track { track, state } => p.tracks.get(track).map_or_else(String::new, |t| {
            let st = t.states.get(state).map_or_else(String::new, lang::zh);
            format!("{}中的{st}", lang::zh(&t.meta))
        }),
    }
}

/// A place in English: its English title (`“coordination: pending”` for a track's state
/// when both have one), else its id in backticks (`` `coordination.pending` ``).
fn place_en(p: &crate::model::Procedure, place: Place) -> String {
    match place {
        Place::State(s) => p
            .states
            .get(s)
            .map_or_else(String::new, |s| lang::en(&s.meta)),
        Place::Track { track, state } => {
            let titles = p.tracks.get(track).and_then(|t| {
                let st = t.states.get(state)?;
                Some((t.meta.title_en.as_deref()?, st.title_en.as_deref()?))
            });
            match titles {
                Some((t, st)) => format!("“{t}: {st}”"),
                None => format!("`{}`", p.place_id(place)),
            }
        }
    }
}

impl Case {
    /// The invariant (`first` before `then`) that forbids taking `a` now: one whose `then` is
    /// the action or the state it enters, and whose `first` has not happened in this case
    /// since `then` last happened.
    fn forbidding_invariant(&self, ai: usize, a: &Action) -> Option<&crate::model::Invariant> {
        let p = self.procedure.as_ref();
        p.invariants.iter().find(|inv| {
            let crate::model::InvariantKind::Before { first, then } = inv.kind else {
                return false;
            };
            let is_this = match then {
                Node::Action(t) => t == ai,
                Node::State(s) => a.to == Some(Place::State(s)),
            };
            if !is_this || inv.meta.basis.is_none() {
                return false;
            }
            let when = |n: Node| match n {
                Node::Action(x) => self.taken_at(x),
                Node::State(x) => self.entered_at(p.place_number(Place::State(x))),
            };
            // `first` counts only when it happened since `then` last did: a case that loops
            // back (a major adjustment) must pass `first` again.
            let first_done = match (when(first), when(then)) {
                (Some(f), Some(t)) => f >= t,
                (Some(_), None) => true,
                (None, _) => false,
            };
            !first_done
        })
    }

    /// The `only_if` invariants with an article of their own on this action or the state it
    /// enters: those that may cite a failing guard part instead of the action.
    fn citing_invariants<'p>(
        p: &'p crate::model::Procedure,
        ai: usize,
        a: &Action,
    ) -> impl Iterator<Item = (usize, &'p crate::model::Invariant, &'p crate::expr::Expr)> {
        p.invariants
            .iter()
            .enumerate()
            .filter_map(move |(ii, inv)| {
                let crate::model::InvariantKind::OnlyIf { reach, only_if } = &inv.kind else {
                    return None;
                };
                let here = match *reach {
                    Node::Action(t) => t == ai,
                    Node::State(s) => a.to == Some(Place::State(s)),
                };
                let cites = inv.meta.basis.is_some()
                    || inv.conditions.iter().any(|c| c.meta.basis.is_some());
                (here && cites).then_some((ii, inv, only_if))
            })
    }

    /// The reasons a plain guard gives: its failing parts grouped by what forbids them (an
    /// `only_if` invariant on this action or the state it enters requires the part, or else
    /// the action itself).
    fn guard_reasons(
        &self,
        ai: usize,
        a: &Action,
        when: &crate::expr::Expr,
        ctx: &Ctx<'_>,
        asking: bool,
        reasons: &mut Vec<Reason>,
    ) {
        let p = self.procedure.as_ref();
        // Only when an invariant could require a part is its canonical text worth computing.
        let canonical = Self::citing_invariants(p, ai, a).next().is_some();
        let mut failed = when.explain_parts(ctx, canonical, &|name| p.title_of(name, Some(a)));
        if asking {
            // Asking what is possible: the payload is still to come.
            failed.retain(|part| still_to_come(&part.falsity).not());
            if failed.is_empty() {
                return;
            }
        }
        // For a failing part: the invariant (and its named condition) that requires it, as
        // indices into the procedure's invariants and that invariant's conditions.
        let requiring = |canonical: &str| -> Option<Requiring> {
            if canonical.is_empty() {
                return None;
            }
            Self::citing_invariants(p, ai, a).find_map(|(ii, inv, only_if)| {
                // Only an invariant (or condition) with an article of its own is narrower.
                if let Some(ci) = inv.conditions.iter().position(|c| {
                    c.meta.basis.is_some() && c.guard.conjuncts().iter().any(|k| k == canonical)
                }) {
                    return Some((ii, Some(ci)));
                }
                (inv.meta.basis.is_some() && only_if.conjuncts().iter().any(|k| k == canonical))
                    .then_some((ii, None))
            })
        };
        let mut groups: Vec<(Option<Requiring>, Vec<Part>)> = Vec::new();
        for part in failed {
            let key = requiring(&part.canonical);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, parts)) => parts.push(part),
                None => groups.push((key, vec![part])),
            }
        }
        if groups.is_empty() {
            groups.push((None, Vec::new()));
        }
        for (key, parts) in groups {
            let zh = format!(
                "{}的办理条件不满足{}",
                lang::zh(&a.meta),
                parts_zh(p, a, &parts, when)
            );
            let en = format!(
                "the condition of {} does not hold{}",
                lang::en(&a.meta),
                parts_en(&parts, when.source())
            );
            let mut r = Reason::new(ReasonKind::GuardFalse, zh, en);
            match key.and_then(|(ii, ci)| p.invariants.get(ii).map(|inv| (inv, ci))) {
                Some((inv, ci)) => {
                    let cond = ci.and_then(|ci| inv.conditions.get(ci));
                    let metas = cond
                        .map(|c| &c.meta)
                        .into_iter()
                        .chain([&inv.meta, &a.meta]);
                    r = r.cite_first(metas);
                    r.invariant = Some(inv.meta.id.clone());
                    r.condition = cond.map(|c| c.meta.id.clone());
                }
                None => r = r.cite(&a.meta),
            }
            r.failed = parts.into_iter().map(|part| part.falsity).collect();
            reasons.push(r);
        }
    }
}

/// The invariant requiring a guard part, and the named condition of it that does: indices
/// into [`crate::model::Procedure::invariants`] and that invariant's conditions.
type Requiring = (usize, Option<usize>);

/// Appends `items`, each in backticks, joined by `sep`; `none` when there are none.
fn push_ticked<'s>(
    out: &mut String,
    items: impl IntoIterator<Item = &'s str>,
    sep: &str,
    none: &str,
) {
    let mut first = true;
    for item in items {
        if !first {
            out.push_str(sep);
        }
        first = false;
        out.push('`');
        out.push_str(item);
        out.push('`');
    }
    if first {
        out.push_str(none);
    }
}

/// What a period is counted from, looked up once for the three ways it is written
/// ([`anchor_name`], [`anchor_zh`], [`anchor_en`]).
enum AnchorOf<'p> {
    Action(&'p Meta),
    Entered(Place),
    Date(&'p Meta),
    Due(&'p Meta),
    PayloadDate { action: &'p Meta, field: &'p Meta },
}

fn anchor_of(p: &crate::model::Procedure, anchor: crate::model::Anchor) -> Option<AnchorOf<'_>> {
    use crate::model::Anchor;
    Some(match anchor {
        Anchor::Action(a) => AnchorOf::Action(&p.actions.get(a)?.meta),
        Anchor::Entered(place) => AnchorOf::Entered(place),
        Anchor::Date(f) => AnchorOf::Date(&p.facts.get(f)?.meta),
        Anchor::Due(r) => AnchorOf::Due(&p.time_rules.get(r)?.meta),
        Anchor::PayloadDate(k) => {
            let (a, f) = p.kept_payload.get(k)?;
            let action = p.actions.get(*a)?;
            AnchorOf::PayloadDate {
                action: &action.meta,
                field: &action.payload.get(*f)?.meta,
            }
        }
    })
}

/// What a period is counted from, by id: `serve_notice`, `coordination.pending`,
/// `received_on`, `the end of reply_limit`, `extend.payload.until`.
pub(crate) fn anchor_name(case: &Case, anchor: crate::model::Anchor) -> String {
    let p = case.procedure.as_ref();
    match anchor_of(p, anchor) {
        Some(AnchorOf::Action(m) | AnchorOf::Date(m)) => m.id.clone(),
        Some(AnchorOf::Entered(place)) => p.place_id(place),
        Some(AnchorOf::Due(m)) => format!("the end of {}", m.id),
        Some(AnchorOf::PayloadDate { action, field }) => {
            format!("{}.payload.{}", action.id, field.id)
        }
        None => String::new(),
    }
}

/// What a period is counted from, in Chinese: `“送达告知书”`, `进入“部门协商”`,
/// `“受理日期”`, `“答复期限”届满`, `“延期”所填“延长至”`.
pub(crate) fn anchor_zh(case: &Case, anchor: crate::model::Anchor) -> String {
    let p = case.procedure.as_ref();
    match anchor_of(p, anchor) {
        Some(AnchorOf::Action(m) | AnchorOf::Date(m)) => lang::zh(m),
        Some(AnchorOf::Entered(place)) => format!("进入{}", place_zh(p, place)),
        Some(AnchorOf::Due(m)) => format!("{}届满", lang::zh(m)),
        Some(AnchorOf::PayloadDate { action, field }) => {
            format!("{}所填{}", lang::zh(action), lang::zh(field))
        }
        None => String::new(),
    }
}

/// What a period is counted from, in English: English titles where the rule file gives
/// them, else ids in backticks.
pub(crate) fn anchor_en(case: &Case, anchor: crate::model::Anchor) -> String {
    let p = case.procedure.as_ref();
    match anchor_of(p, anchor) {
        Some(AnchorOf::Action(m) | AnchorOf::Date(m)) => lang::en(m),
        Some(AnchorOf::Entered(place)) => place_en(p, place),
        Some(AnchorOf::Due(m)) => format!("the end of {}", lang::en(m)),
        Some(AnchorOf::PayloadDate { .. }) => format!("`{}`", anchor_name(case, anchor)),
        None => String::new(),
    }
}
