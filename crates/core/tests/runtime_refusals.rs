//! Unit tests of the case runtime on a small fixture procedure
//! (`tests/fixtures/refusal-lab.toml`): one test per refusal kind, a command that breaks
//! several conditions at once, available actions, deadlines, replay, the hash chain and
//! versioning.
//!
//! Every expected value is worked out by hand from the fixture and the 2025 calendar
//! (`rules/calendars/2025.toml`): 国庆节、中秋节 2025-10-01 (Wed) .. 2025-10-08 off, with
//! 2025-09-28 (Sun) and 2025-10-11 (Sat) make-up working days. Times are written in China
//! Standard Time (`cst`) or UTC (`utc`); 00:00 CST is 16:00 UTC the day before.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::{Procedure, RuleSet, TimeRuleKind};
use fazhi_core::runtime::{
    Actor, Case, Command, DeadlineStatus, DocumentRef, Event, Opening, ReasonKind, Recorded,
    Refusal, verify,
};
use fazhi_core::time::{Calendar, Period};
use serde_json::{Value as Json, json};

/// The names a failing part of a guard reads, with their values.
type Values = Vec<(String, Option<String>)>;

const LAB: &str = include_str!("fixtures/refusal-lab.toml");
const VERSIONED_V1: &str = include_str!("fixtures/versioned.v1.toml");
const VERSIONED_V2: &str = include_str!("fixtures/versioned.v2.toml");

fn calendar() -> Calendar {
    let mut c = Calendar::new();
    for src in [
        include_str!("../../../rules/calendars/2024.toml"),
        include_str!("../../../rules/calendars/2025.toml"),
        include_str!("../../../rules/calendars/2026.toml"),
    ] {
        c.add_year(Calendar::parse_year(src).unwrap()).unwrap();
    }
    c
}

fn rules(files: &[(&str, &str)]) -> RuleSet {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(name, text)| SourceFile::new(*name, *text))
        .collect();
    let loaded = load(&files);
    // The lab's `conclude` (径行决定) leaves `review` without waiting for the expert track, on
    // purpose (the refusals below take it with the track still running): the checker says so,
    // and says nothing else.
    let unexpected: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| {
            !(d.code == "track-abandoned"
                && d.message
                    .starts_with("action `conclude` leaves state `review`"))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "the fixtures load cleanly: {unexpected:#?}"
    );
    loaded.rules
}

fn lab_rules() -> RuleSet {
    rules(&[("refusal-lab.toml", LAB)])
}

fn lab() -> Arc<Procedure> {
    lab_rules().get("refusal-lab", None).unwrap().clone()
}

/// An instant written in China Standard Time, `2025-09-29T10:00:00`.
fn cst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
        .unwrap()
        .with_timezone(&Utc)
}

/// An instant written in UTC.
fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}Z"))
        .unwrap()
        .with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn doc(kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.into(),
        name: format!("{kind}.pdf"),
        sha256: "0123456789abcdef".repeat(4),
        uri: None,
    }
}

fn actor(role: &str) -> Actor {
    Actor::new(format!("{role}-1"), [role])
}

fn cmd(action: &str, role: &str, at: &str) -> Command {
    Command::new(action, actor(role), cst(at))
}

/// The payload of a valid `schedule_hearing`.
fn hearing_payload() -> Json {
    json!({
        "fee": "1500.00",
        "hearing_on": "2025-10-20",
        "venue": "第一会议室",
        "level": "high",
        "public": true,
        "seats": 30,
    })
}

fn with_field(mut payload: Json, key: &str, value: Json) -> Json {
    payload.as_object_mut().unwrap().insert(key.into(), value);
    payload
}

fn without_field(mut payload: Json, key: &str) -> Json {
    payload.as_object_mut().unwrap().remove(key);
    payload
}

/// A case with its recorded history and the calendar.
#[derive(Clone)]
struct Run {
    rules: RuleSet,
    case: Case,
    log: Vec<Recorded>,
    cal: Arc<Calendar>,
}

impl Run {
    fn open_on(rules: RuleSet, id: &str, version: Option<u32>, facts: Json, at: &str) -> Run {
        let p = rules.get(id, version).unwrap().clone();
        let opening = Opening {
            case: "case-1".into(),
            title: "测试案件".into(),
            actor: actor("clerk"),
            at: cst(at),
            facts,
            imported: false,
        };
        let (case, first) = Case::open_recorded(&p, opening).unwrap();
        Run {
            rules,
            case,
            log: vec![first],
            cal: Arc::new(calendar()),
        }
    }

    fn decide(&self, c: Command) -> Result<Event, Refusal> {
        self.case.decide(c, &self.cal)
    }

    fn ok(&mut self, c: Command) -> &mut Self {
        let event = self
            .decide(c)
            .unwrap_or_else(|r| panic!("expected the command to be allowed: {r}"));
        let recorded = self.case.record(event).unwrap();
        self.log.push(recorded);
        self
    }

    /// Decides a command that must be refused, and checks that the case did not change.
    fn refuse(&self, c: Command) -> Refusal {
        let (before, view, seq) = (self.case.clone(), self.case.view(), self.case.seq());
        let refusal = match self.decide(c) {
            Ok(e) => panic!("expected a refusal, got {e:?}"),
            Err(r) => r,
        };
        assert_eq!(self.case.view(), view, "a refused command changes nothing");
        assert_eq!(self.case.seq(), seq);
        assert_eq!(self.case, before);
        refusal
    }

    fn stored(&self) -> Vec<Vec<u8>> {
        self.log.iter().map(|r| r.bytes.clone()).collect()
    }

    fn events(&self) -> Vec<Event> {
        self.log.iter().map(|r| r.event.clone()).collect()
    }
}

fn lab_facts() -> Json {
    json!({ "received_on": "2025-09-26", "category": "major", "technical": true })
}

/// Opened on Friday 2025-09-26 10:00 CST, received that day, major and technical.
fn opened_with(facts: Json) -> Run {
    Run::open_on(
        lab_rules(),
        "refusal-lab",
        None,
        facts,
        "2025-09-26T10:00:00",
    )
}

fn opened() -> Run {
    opened_with(lab_facts())
}

/// Accepted on Monday 2025-09-29 10:00 CST: in `review`, track `experts` pending.
fn in_review_with(facts: Json) -> Run {
    let mut run = opened_with(facts);
    run.ok(cmd("accept", "clerk", "2025-09-29T10:00:00").with_document(doc("application")));
    run
}

fn in_review() -> Run {
    in_review_with(lab_facts())
}

/// Experts argued at 11:00, hearing scheduled at 14:00 on 2025-09-29.
fn in_hearing() -> Run {
    let mut run = in_review();
    run.ok(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")));
    run.ok(cmd("schedule_hearing", "chief", "2025-09-29T14:00:00")
        .with_payload(hearing_payload())
        .with_document(doc("notice")));
    run
}

/// A valid `schedule_hearing` on a case in review whose experts have argued, but with this
/// payload.
fn schedule_with(payload: Json) -> Refusal {
    let mut run = in_review();
    run.ok(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")));
    run.refuse(
        cmd("schedule_hearing", "chief", "2025-09-29T14:00:00")
            .with_payload(payload)
            .with_document(doc("notice")),
    )
}

// ---------------------------------------------------------------------------------------------
// The fixture itself.

#[test]
fn the_happy_path_runs_and_sets_facts() {
    let mut run = in_hearing();
    assert_eq!(run.case.state(), "hearing");
    // `sets`: fine = payload.fee (an exact decimal string), rounds = payload.seats.
    assert_eq!(run.case.fact("fine"), Some(json!("1500.00")));
    assert_eq!(run.case.fact("rounds"), Some(json!(30)));
    assert_eq!(run.case.fact("note"), None);
    run.ok(cmd("annotate", "clerk", "2025-09-30T09:00:00")
        .with_payload(json!({ "text": "通知已送达" })));
    assert_eq!(run.case.fact("note"), Some(json!("通知已送达")));
    assert_eq!(run.case.state(), "hearing", "an action without `to` stays");
    run.ok(cmd("hold_hearing", "chief", "2025-10-14T00:00:00"));
    run.ok(
        cmd("decide", "chief", "2025-10-15T09:00:00").with_payload(json!({ "outcome": "grant" }))
    );
    assert_eq!(run.case.state(), "closed");
    assert!(run.case.is_closed());
    assert_eq!(run.case.seq(), 7);
    let view = run.case.view();
    assert_eq!(
        view.documents,
        vec!["application", "opinion", "notice"],
        "every kind attached on the way is on file, in declaration order"
    );
}

/// `sets` computes every value from the facts before the action, then sets them all: a swap
/// swaps, and a fact read by a later `sets` has its old value, both when deciding and
/// applying at once and when applying the recorded event.
#[test]
fn sets_read_the_facts_before_the_action() {
    const SWAP: &str = r#"
language = 1

[procedure]
id = "swap"
version = 1
title = "swap"
initial = "open"
terminal = ["done"]

[roles]
clerk = { title = "clerk" }

[facts]
a = { type = "integer", default = 1, title = "a" }
b = { type = "integer", default = 2, title = "b" }
c = { type = "integer", default = 0, title = "c" }

[states]
open = { title = "open" }
done = { title = "done" }

[actions.swap]
title = "swap"
from = "open"
to = "done"
by = ["clerk"]
sets = { a = "b", b = "a", c = "a" }
"#;
    let rules = rules(&[("swap.toml", SWAP)]);
    let p = rules.get("swap", None).unwrap().clone();
    let opening = Opening {
        case: "s1".into(),
        title: "swap".into(),
        actor: actor("clerk"),
        at: cst("2025-09-29T10:00:00"),
        facts: json!({}),
        imported: false,
    };
    let (case, _) = Case::open_recorded(&p, opening).unwrap();
    let command = cmd("swap", "clerk", "2025-09-29T11:00:00");
    let mut at_once = case.clone();
    let event = at_once.decide_apply(command.clone(), &calendar()).unwrap();
    let mut applied = case.clone();
    applied.apply(&event).unwrap();
    for c in [&at_once, &applied] {
        assert_eq!(c.fact("a"), Some(json!(2)));
        assert_eq!(c.fact("b"), Some(json!(1)));
        assert_eq!(c.fact("c"), Some(json!(1)));
    }
}

#[test]
fn the_track_runs_only_when_active_if_holds() {
    let run = in_review();
    assert_eq!(run.case.track_states(), vec![("experts", "pending")]);
    let run = in_review_with(json!({ "received_on": "2025-09-26", "category": "major" }));
    assert_eq!(
        run.case.track_states(),
        vec![],
        "technical defaults to false"
    );
}

// ---------------------------------------------------------------------------------------------
// One test per refusal kind.

#[test]
fn unknown_action() {
    let run = in_review();
    let r = run.refuse(cmd("acept", "clerk", "2025-09-29T12:00:00"));
    assert_eq!(r.action, "acept");
    assert_eq!(r.kinds(), vec![ReasonKind::UnknownAction]);
    assert!(
        r.reasons[0].message_en.contains("`acept`"),
        "{}",
        r.reasons[0].message_en
    );
    assert!(
        r.reasons[0].message_en.contains("did you mean `accept`?"),
        "{}",
        r.reasons[0].message_en
    );
}

#[test]
fn wrong_state() {
    let run = opened();
    let r = run.refuse(cmd("hold_hearing", "chief", "2025-09-27T10:00:00"));
    assert_eq!(r.kinds(), vec![ReasonKind::WrongState]);
    assert_eq!(r.reasons[0].state.as_deref(), Some("draft"));
    assert_eq!(r.reasons[0].expected, vec!["hearing"]);

    // Several `from` states.
    let r = run.refuse(
        cmd("annotate", "clerk", "2025-09-27T10:00:00").with_payload(json!({ "text": "x" })),
    );
    assert_eq!(r.kinds(), vec![ReasonKind::WrongState]);
    assert_eq!(r.reasons[0].expected, vec!["review", "hearing", "decided"]);

    // A track action outside the track's parent state.
    let r =
        run.refuse(cmd("argue", "reviewer", "2025-09-27T10:00:00").with_document(doc("opinion")));
    assert_eq!(r.kinds(), vec![ReasonKind::WrongState]);
    assert_eq!(r.reasons[0].state.as_deref(), Some("draft"));
    assert_eq!(r.reasons[0].expected, vec!["experts.pending"]);

    // A track action in the parent state, the track not running (technical = false).
    let run = in_review_with(json!({ "received_on": "2025-09-26", "category": "major" }));
    let r =
        run.refuse(cmd("argue", "reviewer", "2025-09-29T12:00:00").with_document(doc("opinion")));
    assert_eq!(r.kinds(), vec![ReasonKind::WrongState]);
    assert_eq!(
        r.reasons[0].state.as_deref(),
        Some("review (track `experts` does not run)")
    );

    // A track action in a track state it does not leave.
    let mut run = in_review();
    run.ok(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")));
    let r =
        run.refuse(cmd("argue", "reviewer", "2025-09-29T12:00:00").with_document(doc("opinion")));
    assert_eq!(r.kinds(), vec![ReasonKind::WrongState]);
    assert_eq!(r.reasons[0].state.as_deref(), Some("experts.argued"));

    // A closed case.
    let mut run = in_review();
    run.ok(cmd("drop", "chief", "2025-09-30T10:00:00").with_reason("申请人撤回"));
    let r = run.refuse(
        cmd("annotate", "clerk", "2025-09-30T11:00:00").with_payload(json!({ "text": "x" })),
    );
    assert_eq!(r.kinds(), vec![ReasonKind::WrongState]);
    assert_eq!(r.reasons[0].state.as_deref(), Some("dropped"));
    assert!(
        r.reasons[0].message_en.contains("the case has ended"),
        "{}",
        r.reasons[0].message_en
    );
}

#[test]
fn role_not_allowed() {
    let run = opened();
    let r =
        run.refuse(cmd("accept", "chief", "2025-09-29T10:00:00").with_document(doc("application")));
    assert_eq!(r.kinds(), vec![ReasonKind::RoleNotAllowed]);
    assert_eq!(r.reasons[0].roles, vec!["clerk"]);
    assert_eq!(r.reasons[0].basis.as_deref(), Some("第一条"));

    // An actor with no role, and one with a role the procedure does not know.
    for a in [
        Actor::new("nobody", Vec::<String>::new()),
        Actor::new("x", ["mayor"]),
    ] {
        let r = run.refuse(
            Command::new("accept", a, cst("2025-09-29T10:00:00")).with_document(doc("application")),
        );
        assert_eq!(r.kinds(), vec![ReasonKind::RoleNotAllowed]);
        assert_eq!(r.reasons[0].roles, vec!["clerk"]);
    }

    // Several roles, one of them allowed.
    let mut run = in_review();
    run.ok(Command::new(
        "annotate",
        Actor::new("x", ["reviewer", "chief"]),
        cst("2025-09-29T12:00:00"),
    )
    .with_payload(json!({ "text": "x" })));
    assert_eq!(run.case.fact("note"), Some(json!("x")));
}

#[test]
fn guard_false_lists_each_failing_part_with_its_values() {
    let run = in_review_with(json!({
        "received_on": "2025-09-26", "category": "minor", "technical": true
    }));
    let r = run.refuse(
        cmd("schedule_hearing", "chief", "2025-09-29T14:00:00")
            .with_payload(with_field(hearing_payload(), "fee", json!("999.99")))
            .with_document(doc("notice")),
    );
    assert_eq!(r.kinds(), vec![ReasonKind::GuardFalse]);
    let reason = &r.reasons[0];
    assert_eq!(reason.basis.as_deref(), Some("第二条"));
    let failed: Vec<(&str, Values, bool)> = reason
        .failed
        .iter()
        .map(|f| (f.expression.as_str(), f.values.clone(), f.unknown))
        .collect();
    let v = |n: &str, x: &str| (n.to_owned(), Some(x.to_owned()));
    assert_eq!(
        failed,
        vec![
            ("category == \"major\"", vec![v("category", "minor")], false),
            (
                "payload.fee >= 1000",
                vec![v("payload.fee", "999.99")],
                false
            ),
            ("done(experts)", vec![v("experts", "pending")], false),
        ]
    );
    // Each span points at its text in the guard.
    let p = run.case.procedure();
    let source = p
        .action("schedule_hearing")
        .unwrap()
        .guard()
        .unwrap()
        .source();
    for f in &reason.failed {
        assert_eq!(&source[f.span.start..f.span.end], f.expression);
    }
}

#[test]
fn guard_false_on_an_unset_value_is_unknown_and_names_it() {
    let mut run = in_review();
    run.ok(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")));
    let r = run.refuse(
        cmd("schedule_hearing", "chief", "2025-09-29T14:00:00")
            .with_payload(without_field(hearing_payload(), "fee"))
            .with_document(doc("notice")),
    );
    assert_eq!(
        r.kinds(),
        vec![ReasonKind::PayloadInvalid, ReasonKind::GuardFalse]
    );
    assert_eq!(r.reasons[0].field.as_deref(), Some("payload.fee"));
    let failed = &r.reasons[1].failed;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].expression, "payload.fee >= 1000");
    assert_eq!(failed[0].values, vec![("payload.fee".to_owned(), None)]);
    assert!(failed[0].unknown);
}

#[test]
fn payload_invalid_unknown_field() {
    let r = schedule_with(with_field(hearing_payload(), "fees", json!(1)));
    assert_eq!(r.kinds(), vec![ReasonKind::PayloadInvalid]);
    assert_eq!(r.reasons[0].field.as_deref(), Some("payload.fees"));
    assert!(
        r.reasons[0].message_en.contains("did you mean `fee`?"),
        "{}",
        r.reasons[0].message_en
    );
}

#[test]
fn payload_invalid_missing_required_field() {
    for field in ["hearing_on", "venue"] {
        let r = schedule_with(without_field(hearing_payload(), field));
        assert_eq!(r.kinds(), vec![ReasonKind::PayloadInvalid], "{field}");
        assert_eq!(r.reasons[0].field, Some(format!("payload.{field}")));
    }
    // Optional fields may be left out.
    let mut run = in_review();
    run.ok(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")));
    run.ok(cmd("schedule_hearing", "chief", "2025-09-29T14:00:00")
        .with_payload(json!({ "fee": 1000, "hearing_on": "2025-10-20", "venue": "x" }))
        .with_document(doc("notice")));
    assert_eq!(run.case.fact("fine"), Some(json!("1000")));
    assert_eq!(
        run.case.fact("rounds"),
        None,
        "`rounds = payload.seats` with no seats unsets it"
    );
}

#[test]
fn payload_invalid_wrong_type_for_each_type() {
    let cases = [
        ("fee", json!("abc")),
        ("fee", json!(true)),
        ("fee", json!([1000])),
        ("hearing_on", json!("2025/10/20")),
        ("hearing_on", json!("2025-02-30")),
        ("hearing_on", json!(20251020)),
        ("venue", json!(5)),
        ("venue", json!({ "room": 1 })),
        ("level", json!("medium")),
        ("level", json!(1)),
        ("public", json!("yes")),
        ("public", json!(1)),
        ("seats", json!(1.5)),
        ("seats", json!("30")),
        ("seats", json!(18_446_744_073_709_551_615_u64)),
    ];
    for (field, bad) in cases {
        let r = schedule_with(with_field(hearing_payload(), field, bad.clone()));
        let invalid: Vec<_> = r
            .reasons
            .iter()
            .filter(|r| r.kind == ReasonKind::PayloadInvalid)
            .collect();
        assert_eq!(invalid.len(), 1, "{field} = {bad}: {r}");
        assert_eq!(invalid[0].field, Some(format!("payload.{field}")), "{bad}");
        // An invalid fee leaves `payload.fee >= 1000` unknown; nothing else fails.
        let expected = if field == "fee" {
            vec![ReasonKind::PayloadInvalid, ReasonKind::GuardFalse]
        } else {
            vec![ReasonKind::PayloadInvalid]
        };
        assert_eq!(r.kinds(), expected, "{field} = {bad}");
    }
    // Not an object at all.
    let r = schedule_with(json!(["fee", 1500]));
    assert_eq!(r.reasons[0].kind, ReasonKind::PayloadInvalid);
    assert_eq!(r.reasons[0].field.as_deref(), Some("payload"));
}

#[test]

fn payload_invalid_required_field_given_as_null() {
    let r = schedule_with(with_field(hearing_payload(), "venue", Json::Null));
    assert_eq!(r.kinds(), vec![ReasonKind::PayloadInvalid]);
    assert_eq!(r.reasons[0].field.as_deref(), Some("payload.venue"));
}

#[test]

fn opening_with_a_required_fact_given_as_null_is_refused() {
    let p = lab();
    let opening = Opening {
        case: "c".into(),
        title: String::new(),
        actor: actor("clerk"),
        at: cst("2025-09-26T10:00:00"),
        facts: json!({ "received_on": null, "category": "major" }),
        imported: false,
    };
    let r = Case::open(&p, opening).unwrap_err();
    assert_eq!(r.kinds(), vec![ReasonKind::PayloadInvalid]);
    assert_eq!(r.reasons[0].field.as_deref(), Some("facts.received_on"));
}

#[test]
fn opening_checks_the_facts() {
    let p = lab();
    let open = |facts: Json| {
        Case::open(
            &p,
            Opening {
                case: "c".into(),
                title: String::new(),
                actor: actor("clerk"),
                at: cst("2025-09-26T10:00:00"),
                facts,
                imported: false,
            },
        )
    };
    let field = |r: &Refusal| -> Vec<Option<String>> {
        r.reasons.iter().map(|r| r.field.clone()).collect()
    };
    let r = open(json!({ "category": "major" })).unwrap_err();
    assert_eq!(r.action, "open");
    assert_eq!(r.kinds(), vec![ReasonKind::PayloadInvalid]);
    assert_eq!(field(&r), vec![Some("facts.received_on".into())]);
    let r = open(json!({ "received_on": "2025-09-26", "category": "huge" })).unwrap_err();
    assert_eq!(field(&r), vec![Some("facts.category".into())]);
    let r = open(json!({ "received_on": "2025-09-26", "category": "major", "urgnt": true }))
        .unwrap_err();
    assert_eq!(field(&r), vec![Some("facts.urgnt".into())]);
    let (case, event) = open(json!({ "received_on": "2025-09-26", "category": "major" })).unwrap();
    assert_eq!(event.seq, 0);
    assert_eq!(case.seq(), 1);
    assert_eq!(case.state(), "draft");
    assert_eq!(case.fact("rounds"), Some(json!(0)), "the default");
    assert_eq!(case.fact("urgent"), Some(json!(false)));
    assert_eq!(case.fact("fine"), None);
}

#[test]
fn document_missing_kind() {
    let run = opened();
    let r = run.refuse(cmd("accept", "clerk", "2025-09-29T10:00:00"));
    assert_eq!(r.kinds(), vec![ReasonKind::DocumentMissing]);
    assert_eq!(r.reasons[0].document.as_deref(), Some("application"));
    // The kind has no basis of its own: the action's.
    assert_eq!(r.reasons[0].basis.as_deref(), Some("第一条"));

    // A kind with a basis of its own gives it.
    let run = in_review();
    let r = run.refuse(cmd("argue", "reviewer", "2025-09-29T11:00:00"));
    assert_eq!(r.kinds(), vec![ReasonKind::DocumentMissing]);
    assert_eq!(r.reasons[0].document.as_deref(), Some("opinion"));
    assert_eq!(r.reasons[0].basis.as_deref(), Some("第三条"));

    // Another kind does not stand in for the one required.
    let r =
        run.refuse(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("notice")));
    assert_eq!(r.kinds(), vec![ReasonKind::DocumentMissing]);
    assert_eq!(r.reasons[0].document.as_deref(), Some("opinion"));
}

#[test]
fn document_missing_malformed_digest() {
    let run = opened();
    let good = "0123456789abcdef".repeat(4);
    for bad in [
        good.to_uppercase(),
        good[1..].to_owned(),
        format!("{good}0"),
        format!("{}g", &good[1..]),
        String::new(),
    ] {
        let mut d = doc("application");
        d.sha256 = bad.clone();
        let r = run.refuse(cmd("accept", "clerk", "2025-09-29T10:00:00").with_document(d));
        assert_eq!(r.kinds(), vec![ReasonKind::DocumentMissing], "{bad:?}");
        assert_eq!(r.reasons[0].document.as_deref(), Some("application"));
        assert!(
            r.reasons[0].message_en.contains("SHA-256"),
            "{}",
            r.reasons[0].message_en
        );
    }
}

#[test]
fn document_missing_unknown_kind() {
    let run = opened();
    let r = run.refuse(
        cmd("accept", "clerk", "2025-09-29T10:00:00")
            .with_document(doc("application"))
            .with_document(doc("aplication")),
    );
    assert_eq!(r.kinds(), vec![ReasonKind::DocumentMissing]);
    assert_eq!(r.reasons[0].document.as_deref(), Some("aplication"));
    assert!(
        r.reasons[0]
            .message_en
            .contains("did you mean `application`?"),
        "{}",
        r.reasons[0].message_en
    );
}

#[test]
fn too_early_counts_calendar_days_without_rolling_past_the_holiday() {
    // cooling_off: at least 7 days after entering `review` (Mon 2025-09-29 10:00 CST). The
    // start day is not counted: the last day is 09-29 + 7 = 10-06, inside the National Day
    // holiday; a minimum is not rolled forward, so `conclude` is allowed from 00:00 CST on
    // 10-07 = 2025-10-06T16:00Z.
    let run = in_review();
    let r = run.refuse(cmd("conclude", "chief", "2025-10-06T23:59:59"));
    assert_eq!(r.kinds(), vec![ReasonKind::TooEarly]);
    let reason = &r.reasons[0];
    assert_eq!(reason.rule.as_deref(), Some("cooling_off"));
    assert_eq!(reason.allowed_from, Some(utc("2025-10-06T16:00:00")));
    assert_eq!(reason.basis.as_deref(), Some("第六条"));
    assert!(!reason.provisional);
    assert_eq!(reason.due, None);

    let mut later = run.clone();
    later.ok(cmd("conclude", "chief", "2025-10-07T00:00:00"));
    assert_eq!(later.case.state(), "decided");

    // `unless = "urgent"`: the minimum does not apply.
    let mut urgent = in_review_with(json!({
        "received_on": "2025-09-26", "category": "major", "urgent": true
    }));
    urgent.ok(cmd("conclude", "chief", "2025-09-29T10:00:01"));
    assert_eq!(urgent.case.state(), "decided");
}

#[test]
fn too_late_after_a_strict_deadline_from_a_date_fact() {
    // accept_limit: within 5 days of received_on = Fri 2025-09-26 (not counted). 09-26 + 5 =
    // 10-01, a day off; rolled forward to the next working day, Thu 10-09. Due at the end of
    // 10-09 CST: 2025-10-10T00:00+08:00 = 2025-10-09T16:00Z.
    let run = opened();
    let r =
        run.refuse(cmd("accept", "clerk", "2025-10-10T00:00:00").with_document(doc("application")));
    assert_eq!(r.kinds(), vec![ReasonKind::TooLate]);
    let reason = &r.reasons[0];
    assert_eq!(reason.rule.as_deref(), Some("accept_limit"));
    assert_eq!(reason.due, Some(utc("2025-10-09T16:00:00")));
    assert_eq!(reason.basis.as_deref(), Some("第四条"));
    assert!(!reason.provisional);
    assert_eq!(reason.allowed_from, None);

    let mut in_time = run.clone();
    in_time.ok(cmd("accept", "clerk", "2025-10-09T23:59:59").with_document(doc("application")));
    assert_eq!(in_time.case.state(), "review");
}

#[test]
fn reason_missing_when_always_required() {
    let run = in_review();
    for reason in [None, Some(""), Some("  \t")] {
        let mut c = cmd("drop", "chief", "2025-09-30T10:00:00");
        c.reason = reason.map(str::to_owned);
        let r = run.refuse(c);
        assert_eq!(r.kinds(), vec![ReasonKind::ReasonMissing], "{reason:?}");
        assert_eq!(r.reasons[0].basis.as_deref(), Some("第九条"));
        assert_eq!(r.reasons[0].rule, None);
        assert_eq!(r.reasons[0].allowed_from, None);
    }
    let mut run = run;
    run.ok(cmd("drop", "chief", "2025-09-30T10:00:00").with_reason("申请人撤回"));
    assert_eq!(run.case.state(), "dropped");
    match &run.log.last().unwrap().event.body {
        fazhi_core::runtime::EventBody::Action { reason, .. } => {
            assert_eq!(reason.as_deref(), Some("申请人撤回"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reason_missing_when_its_guard_holds() {
    // reason_required = `payload.outcome == "refuse"`.
    let mut run = in_review();
    run.ok(cmd("conclude", "chief", "2025-10-07T09:00:00"));
    let refuse = json!({ "outcome": "refuse" });
    let r = run.refuse(cmd("decide", "chief", "2025-10-07T10:00:00").with_payload(refuse.clone()));
    assert_eq!(r.kinds(), vec![ReasonKind::ReasonMissing]);
    assert_eq!(r.reasons[0].rule, None);

    let mut granted = run.clone();
    granted
        .ok(cmd("decide", "chief", "2025-10-07T10:00:00")
            .with_payload(json!({ "outcome": "grant" })));
    assert_eq!(granted.case.state(), "closed");

    run.ok(cmd("decide", "chief", "2025-10-07T10:00:00")
        .with_payload(refuse)
        .with_reason("不符合条件"));
    assert_eq!(run.case.state(), "closed");
}

#[test]
fn reason_missing_below_a_generally_at_least_minimum() {
    // hearing_notice: at least 5 working days after schedule_hearing (Mon 2025-09-29, not
    // counted): 09-30 (1); 10-01..10-08 off; 10-09 (2), 10-10 (3), Sat 10-11 a make-up
    // working day (4), Mon 10-13 (5). Allowed from 00:00 CST on 10-14 = 2025-10-13T16:00Z.
    let run = in_hearing();
    for at in ["2025-10-10T10:00:00", "2025-10-13T23:59:59"] {
        let r = run.refuse(cmd("hold_hearing", "chief", at));
        assert_eq!(r.kinds(), vec![ReasonKind::ReasonMissing], "{at}");
        let reason = &r.reasons[0];
        assert_eq!(reason.rule.as_deref(), Some("hearing_notice"));
        assert_eq!(reason.allowed_from, Some(utc("2025-10-13T16:00:00")));
        assert_eq!(reason.basis.as_deref(), Some("第五条"));
        assert!(!reason.provisional);
    }
    // With a reason it may go below the minimum.
    let mut early = run.clone();
    early.ok(cmd("hold_hearing", "chief", "2025-10-10T10:00:00").with_reason("当事人同意提前"));
    assert_eq!(early.case.state(), "decided");
    // From the day after the last day, no reason is needed.
    let mut on_time = run.clone();
    on_time.ok(cmd("hold_hearing", "chief", "2025-10-14T00:00:00"));
    assert_eq!(on_time.case.state(), "decided");
}

#[test]
fn out_of_order() {
    // The last event is the acceptance at 2025-09-29 10:00 CST.
    let run = in_review();
    let annotate = |at| cmd("annotate", "clerk", at).with_payload(json!({ "text": "x" }));
    let r = run.refuse(annotate("2025-09-29T09:59:59"));
    assert_eq!(r.kinds(), vec![ReasonKind::OutOfOrder]);
    // The same instant as the last event is in order.
    let mut same = run.clone();
    same.ok(annotate("2025-09-29T10:00:00"));
    assert_eq!(same.case.last_at(), cst("2025-09-29T10:00:00"));
}

#[test]
fn one_command_breaking_many_conditions_lists_them_all() {
    // In `draft`, last event at 2025-09-26 10:00 CST: a clerk asks for schedule_hearing a day
    // before that, with a bad payload and an unknown document kind, and no notice.
    let run = opened();
    let r = run.refuse(
        cmd("schedule_hearing", "clerk", "2025-09-25T10:00:00")
            .with_payload(json!({ "fee": "lots", "extra": 1 }))
            .with_document(doc("memo")),
    );
    let mut got: Vec<(ReasonKind, Option<String>)> = r
        .reasons
        .iter()
        .map(|r| (r.kind, r.field.clone().or_else(|| r.document.clone())))
        .collect();
    got.sort();
    let s = |x: &str| Some(x.to_owned());
    let mut expected = vec![
        (ReasonKind::PayloadInvalid, s("payload.extra")),
        (ReasonKind::PayloadInvalid, s("payload.fee")),
        (ReasonKind::PayloadInvalid, s("payload.hearing_on")),
        (ReasonKind::PayloadInvalid, s("payload.venue")),
        (ReasonKind::DocumentMissing, s("memo")),
        (ReasonKind::DocumentMissing, s("notice")),
        (ReasonKind::OutOfOrder, None),
        (ReasonKind::WrongState, None),
        (ReasonKind::RoleNotAllowed, None),
        (ReasonKind::GuardFalse, None),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let by_kind = |k| r.reasons.iter().find(|r| r.kind == k).unwrap();
    assert_eq!(by_kind(ReasonKind::WrongState).expected, vec!["review"]);
    assert_eq!(by_kind(ReasonKind::RoleNotAllowed).roles, vec!["chief"]);
    // category is major and the track does not run in draft (so it is done): only the fee
    // part fails, unknown.
    let failed = &by_kind(ReasonKind::GuardFalse).failed;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].expression, "payload.fee >= 1000");
    assert!(failed[0].unknown);
    // The message lists every reason.
    let text = r.to_string();
    for reason in &r.reasons {
        assert!(text.contains(&reason.message));
    }
}

#[test]
fn several_time_conditions_at_once() {
    // Too late for accept_limit, out of order and from the wrong role: all three.
    let run = opened();
    let mut at_late_but_wrong = cmd("accept", "chief", "2025-10-10T00:00:00");
    at_late_but_wrong.documents.push(doc("application"));
    let r = run.refuse(at_late_but_wrong);
    let mut kinds = r.kinds();
    kinds.sort();
    assert_eq!(kinds, vec![ReasonKind::RoleNotAllowed, ReasonKind::TooLate]);

    // Below the hearing minimum, without reason, and the guard-form reason missing is not
    // involved: hold_hearing by a clerk early.
    let run = in_hearing();
    let r = run.refuse(cmd("hold_hearing", "clerk", "2025-10-09T10:00:00"));
    let mut kinds = r.kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![ReasonKind::RoleNotAllowed, ReasonKind::ReasonMissing]
    );
}

// ---------------------------------------------------------------------------------------------
// Available actions.

#[test]
fn available_actions_in_review() {
    // In review, experts pending, at 2025-09-29 12:00 CST, for a chief.
    let run = in_review();
    let options = run
        .case
        .available_actions(&actor("chief"), cst("2025-09-29T12:00:00"), &run.cal);
    let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        vec![
            "accept",
            "annotate",
            "argue",
            "conclude",
            "decide",
            "drop",
            "hold_hearing",
            "schedule_hearing"
        ]
    );
    let get = |id: &str| options.iter().find(|o| o.id == id).unwrap();
    let kinds = |id: &str| -> Vec<ReasonKind> { get(id).reasons.iter().map(|r| r.kind).collect() };

    assert!(!get("accept").allowed);
    assert_eq!(
        kinds("accept"),
        vec![ReasonKind::WrongState, ReasonKind::RoleNotAllowed]
    );
    assert_eq!(get("accept").documents, vec!["application"]);
    assert_eq!(get("accept").basis.as_deref(), Some("第一条"));
    assert_eq!(get("accept").title, "受理");

    assert_eq!(kinds("argue"), vec![ReasonKind::RoleNotAllowed]);
    assert_eq!(get("argue").reasons[0].roles, vec!["reviewer"]);

    // The guard's payload part is left aside (the payload is still to come); done(experts)
    // is not true yet.
    let sh = get("schedule_hearing");
    assert!(!sh.allowed);
    assert_eq!(kinds("schedule_hearing"), vec![ReasonKind::GuardFalse]);
    let failed: Vec<&str> = sh.reasons[0]
        .failed
        .iter()
        .map(|f| f.expression.as_str())
        .collect();
    assert_eq!(failed, vec!["done(experts)"]);
    assert_eq!(sh.documents, vec!["notice"]);
    assert!(!sh.reason_required);

    assert_eq!(kinds("hold_hearing"), vec![ReasonKind::WrongState]);
    assert_eq!(kinds("decide"), vec![ReasonKind::WrongState]);

    assert_eq!(kinds("conclude"), vec![ReasonKind::TooEarly]);
    assert_eq!(
        get("conclude").reasons[0].allowed_from,
        Some(utc("2025-10-06T16:00:00"))
    );

    let annotate = get("annotate");
    assert!(annotate.allowed);
    assert!(annotate.reasons.is_empty());
    assert!(!annotate.reason_required);
    assert!(annotate.documents.is_empty());
    assert_eq!(
        *annotate.payload_schema,
        json!({
            "type": "object",
            "properties": { "text": { "type": "string", "title": "text" } },
            "required": ["text"],
            "additionalProperties": false,
        })
    );

    let drop = get("drop");
    assert!(drop.allowed, "the reason is still to be given");
    assert!(drop.reason_required);

    // Once the experts have argued, schedule_hearing is allowed (the fee is still to come).
    let mut run = run;
    run.ok(cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")));
    let options = run
        .case
        .available_actions(&actor("chief"), cst("2025-09-29T12:00:00"), &run.cal);
    let sh = options.iter().find(|o| o.id == "schedule_hearing").unwrap();
    assert!(sh.allowed, "{:?}", sh.reasons);
    // ... and for a reviewer everything but argue's successor is a matter of role or state.
    let options =
        run.case
            .available_actions(&actor("reviewer"), cst("2025-09-29T12:00:00"), &run.cal);
    assert!(options.iter().all(|o| !o.allowed));
}

#[test]
fn available_actions_payload_schema_is_a_json_schema_of_every_type() {
    let run = in_review();
    let options = run
        .case
        .available_actions(&actor("chief"), cst("2025-09-29T12:00:00"), &run.cal);
    let schema = &options
        .iter()
        .find(|o| o.id == "schedule_hearing")
        .unwrap()
        .payload_schema;
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, vec!["fee", "hearing_on", "venue"]);
    let props = &schema["properties"];
    assert_eq!(props.as_object().unwrap().len(), 6);
    assert_eq!(props["fee"]["type"], json!(["number", "string"]));
    assert!(props["fee"]["pattern"].is_string());
    assert_eq!(props["fee"]["title"], "罚款数额");
    assert_eq!(
        props["hearing_on"],
        json!({ "type": "string", "format": "date", "title": "听证日期" })
    );
    assert_eq!(props["venue"], json!({ "type": "string", "title": "地点" }));
    assert_eq!(
        props["level"],
        json!({ "enum": ["low", "high"], "title": "级别" })
    );
    assert_eq!(
        props["public"],
        json!({ "type": "boolean", "title": "公开" })
    );
    assert_eq!(
        props["seats"],
        json!({ "type": "integer", "title": "席位" })
    );
}

#[test]
fn available_actions_reason_required_by_guard_is_reported_when_it_holds() {
    // decide's reason_required reads the payload, which is still to come: not required yet.
    let mut run = in_review();
    run.ok(cmd("conclude", "chief", "2025-10-07T09:00:00"));
    let options = run
        .case
        .available_actions(&actor("chief"), cst("2025-10-07T10:00:00"), &run.cal);
    let decide = options.iter().find(|o| o.id == "decide").unwrap();
    assert!(decide.allowed);
    assert!(!decide.reason_required);
}

#[test]

fn available_actions_below_a_minimum_with_reason_says_a_reason_is_required() {
    let run = in_hearing();
    let options = run
        .case
        .available_actions(&actor("chief"), cst("2025-10-10T10:00:00"), &run.cal);
    let hold = options.iter().find(|o| o.id == "hold_hearing").unwrap();
    // decide() accepts the command with a reason at this time:
    assert!(
        run.decide(cmd("hold_hearing", "chief", "2025-10-10T10:00:00").with_reason("同意"))
            .is_ok()
    );
    assert!(hold.reason_required, "a reason is what it takes now");
    assert!(
        hold.allowed,
        "payload, documents and reason still to be given"
    );
}

// ---------------------------------------------------------------------------------------------
// Deadlines.

#[test]
fn deadlines_pending_then_overdue_then_met() {
    let run = opened();
    // At opening only accept_limit has started (from received_on).
    let ds = run.case.deadlines(cst("2025-09-27T10:00:00"), &run.cal);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert_eq!(d.rule, "accept_limit");
    assert_eq!(d.kind, TimeRuleKind::Within);
    assert_eq!(d.period, Period::Days(5));
    assert_eq!(d.after, "received_on");
    assert_eq!(d.from, utc("2025-09-25T16:00:00"), "00:00 CST of 09-26");
    assert_eq!(d.due, utc("2025-10-09T16:00:00"));
    assert_eq!(d.last_day, Some(date("2025-10-09")));
    assert_eq!(d.actions, vec!["accept"]);
    assert_eq!(d.status, DeadlineStatus::Pending);
    assert!(!d.late);
    assert!(!d.provisional);
    assert_eq!(d.basis.as_deref(), Some("第四条"));
    assert_eq!(
        run.case.next_due(cst("2025-09-27T10:00:00"), &run.cal),
        Some(utc("2025-10-09T16:00:00"))
    );

    // One second before the end of 10-09 it is pending; at 00:00 CST on 10-10 overdue.
    let ds = run.case.deadlines(cst("2025-10-09T23:59:59"), &run.cal);
    assert_eq!(ds[0].status, DeadlineStatus::Pending);
    let ds = run.case.deadlines(cst("2025-10-10T00:00:00"), &run.cal);
    assert_eq!(ds[0].status, DeadlineStatus::Overdue);

    // Accepted on 09-29: accept_limit met; cooling_off and decision_limit start.
    let run = in_review();
    let ds = run.case.deadlines(cst("2025-09-30T10:00:00"), &run.cal);
    let get = |id: &str| ds.iter().find(|d| d.rule == id).unwrap();
    assert_eq!(ds.len(), 3, "{ds:#?}");
    assert_eq!(get("accept_limit").status, DeadlineStatus::Met);
    assert!(!get("accept_limit").late);

    let c = get("cooling_off");
    assert_eq!(c.kind, TimeRuleKind::AtLeast);
    assert_eq!(c.after, "review");
    assert_eq!(c.from, cst("2025-09-29T10:00:00"));
    assert_eq!(c.due, utc("2025-10-06T16:00:00"));
    assert_eq!(c.last_day, None);
    assert_eq!(c.status, DeadlineStatus::Pending);

    // decision_limit: 10 working days after Mon 09-29: 09-30 (1), 10-09 (2), 10-10 (3),
    // Sat 10-11 (4), 10-13..10-17 (5..9), Mon 10-20 (10). Due 2025-10-21T00:00+08.
    let dl = get("decision_limit");
    assert_eq!(dl.period, Period::WorkingDays(10));
    assert_eq!(dl.after, "accept");
    assert_eq!(dl.last_day, Some(date("2025-10-20")));
    assert_eq!(dl.due, utc("2025-10-20T16:00:00"));
    assert_eq!(dl.status, DeadlineStatus::Pending);

    // The minimum has run from 00:00 CST on 10-07.
    let ds = run.case.deadlines(cst("2025-10-07T00:00:00"), &run.cal);
    let c = ds.iter().find(|d| d.rule == "cooling_off").unwrap();
    assert_eq!(c.status, DeadlineStatus::Met);
    // decision_limit is overdue from 00:00 CST on 10-21.
    let ds = run.case.deadlines(cst("2025-10-21T00:00:00"), &run.cal);
    let dl = ds.iter().find(|d| d.rule == "decision_limit").unwrap();
    assert_eq!(dl.status, DeadlineStatus::Overdue);
    assert_eq!(
        run.case.next_due(cst("2025-10-21T00:00:00"), &run.cal),
        Some(utc("2025-10-20T16:00:00"))
    );
}

#[test]
fn deadlines_met_late_on_a_non_strict_deadline_and_a_closed_case() {
    let mut run = in_review();
    run.ok(cmd("conclude", "chief", "2025-10-07T09:00:00"));
    // decision_limit is not strict: deciding on 10-21 is allowed, and reported late.
    run.ok(
        cmd("decide", "chief", "2025-10-21T09:00:00").with_payload(json!({ "outcome": "grant" }))
    );
    assert!(run.case.is_closed());
    let ds = run.case.deadlines(cst("2025-10-22T09:00:00"), &run.cal);
    let mut rules: Vec<&str> = ds.iter().map(|d| d.rule.as_str()).collect();
    rules.sort_unstable();
    assert_eq!(rules, vec!["accept_limit", "cooling_off", "decision_limit"]);
    let dl = ds.iter().find(|d| d.rule == "decision_limit").unwrap();
    assert_eq!(dl.status, DeadlineStatus::Late);
    assert!(dl.late);
    assert!(
        ds.iter()
            .filter(|d| d.rule != "decision_limit")
            .all(|d| d.status == DeadlineStatus::Met)
    );
    assert!(!ds.iter().find(|d| d.rule == "accept_limit").unwrap().late);
    assert_eq!(
        run.case.next_due(cst("2025-10-22T09:00:00"), &run.cal),
        None
    );

    // A closed case lists only the deadlines that were met: dropped before accepting, the
    // overdue accept_limit is not listed.
    let mut dropped = opened();
    dropped.ok(cmd("drop", "chief", "2025-09-27T09:00:00").with_reason("撤回"));
    assert!(
        dropped
            .case
            .deadlines(cst("2025-10-20T00:00:00"), &dropped.cal)
            .is_empty()
    );
}

#[test]
fn deadlines_waived_while_unless_holds() {
    let run = in_review_with(json!({
        "received_on": "2025-09-26", "category": "major", "urgent": true
    }));
    let ds = run.case.deadlines(cst("2025-09-30T10:00:00"), &run.cal);
    let c = ds.iter().find(|d| d.rule == "cooling_off").unwrap();
    assert_eq!(c.status, DeadlineStatus::Waived);
    assert_eq!(c.due, utc("2025-10-06T16:00:00"), "still reckoned");
}

#[test]
fn deadlines_in_an_uncovered_year_are_provisional() {
    // received_on Mon 2027-03-01; 2027 has no notice: weekends only. 03-01 + 5 = Sat 03-06,
    // rolled to Mon 03-08; due 2027-03-09T00:00+08 = 2027-03-08T16:00Z, provisional.
    let run = opened_with(json!({ "received_on": "2027-03-01", "category": "major" }));
    let ds = run.case.deadlines(cst("2027-03-02T10:00:00"), &run.cal);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].last_day, Some(date("2027-03-08")));
    assert_eq!(ds[0].due, utc("2027-03-08T16:00:00"));
    assert!(ds[0].provisional);
    // A late acceptance is refused with a provisional due time.
    let r =
        run.refuse(cmd("accept", "clerk", "2027-03-09T00:00:00").with_document(doc("application")));
    assert_eq!(r.kinds(), vec![ReasonKind::TooLate]);
    assert_eq!(r.reasons[0].due, Some(utc("2027-03-08T16:00:00")));
    assert!(r.reasons[0].provisional);
    // The 2025 case is not provisional (checked above); a case received on the last day of
    // 2026 reaches into 2027: Thu 2026-12-31 + 5 = Tue 2027-01-05, a weekday; provisional.
    let run = opened_with(json!({ "received_on": "2026-12-31", "category": "major" }));
    let ds = run.case.deadlines(cst("2027-01-01T10:00:00"), &run.cal);
    assert_eq!(ds[0].last_day, Some(date("2027-01-05")));
    assert!(ds[0].provisional);
}

// ---------------------------------------------------------------------------------------------
// Replay, the hash chain, versions.

/// A case through every action of the fixture but conclude, with a snapshot after each step.
fn full_run() -> (Run, Vec<Case>) {
    let mut run = opened();
    let mut snapshots = vec![run.case.clone()];
    let steps = [
        cmd("accept", "clerk", "2025-09-29T10:00:00").with_document(doc("application")),
        cmd("argue", "reviewer", "2025-09-29T11:00:00").with_document(doc("opinion")),
        cmd("schedule_hearing", "chief", "2025-09-29T14:00:00")
            .with_payload(hearing_payload())
            .with_document(doc("notice")),
        cmd("annotate", "clerk", "2025-09-30T09:00:00").with_payload(json!({ "text": "送达" })),
        cmd("hold_hearing", "chief", "2025-10-10T10:00:00").with_reason("当事人同意"),
        cmd("decide", "chief", "2025-10-11T10:00:00")
            .with_payload(json!({ "outcome": "refuse" }))
            .with_reason("理由"),
    ];
    for c in steps {
        run.ok(c);
        snapshots.push(run.case.clone());
    }
    (run, snapshots)
}

#[test]
fn replay_equals_the_case_built_step_by_step() {
    let (run, snapshots) = full_run();
    let events = run.events();
    for k in 1..=events.len() {
        let replayed = Case::replay(&run.rules, &events[..k]).unwrap();
        assert_eq!(replayed, snapshots[k - 1], "after {k} events");
        assert_eq!(replayed.view(), snapshots[k - 1].view());
    }
    // And from the stored bytes, as a store reads them back.
    let parsed: Vec<Event> = run
        .stored()
        .iter()
        .map(|b| Event::from_bytes(b).unwrap())
        .collect();
    assert_eq!(parsed, events);
    let replayed = Case::replay(&run.rules, &parsed).unwrap();
    assert_eq!(replayed, run.case);
    assert_eq!(replayed.head(), run.log.last().unwrap().hash);
}

#[test]
fn replay_refuses_broken_histories() {
    let (run, _) = full_run();
    let events = run.events();
    assert!(Case::replay(&run.rules, &events[..0]).is_err());
    assert!(
        Case::replay(&run.rules, &events[1..]).is_err(),
        "no opening"
    );
    let mut skipped = events.clone();
    skipped.remove(2);
    assert!(Case::replay(&run.rules, &skipped).is_err(), "a gap");
    let mut foreign = events.clone();
    foreign[3].case = "other".into();
    assert!(Case::replay(&run.rules, &foreign).is_err());
    assert!(
        Case::replay(&RuleSet::new(), &events).is_err(),
        "procedure not loaded"
    );
}

#[test]
fn verify_passes_on_an_intact_chain() {
    let (run, _) = full_run();
    let stored = run.stored();
    assert_eq!(verify(&stored, None), Ok(()));
    assert_eq!(verify(&stored, Some(run.case.head())), Ok(()));
    // Each event names the hash of the previous one's bytes.
    for pair in run.log.windows(2) {
        assert_eq!(pair[1].event.prev_hash, pair[0].hash);
    }
    assert_eq!(run.log[0].event.prev_hash, fazhi_core::runtime::GENESIS);
}

/// The byte positions of event `k`'s stored bytes that hold its `prev_hash` digits.
fn prev_hash_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let text = std::str::from_utf8(bytes).unwrap();
    let start = text.find("\"prev_hash\":\"").unwrap() + "\"prev_hash\":\"".len();
    start..start + 64
}

#[test]
fn verify_finds_a_flipped_byte_of_a_middle_event() {
    let (run, _) = full_run();
    let stored = run.stored();
    let k = 3;
    // Every byte of event k, flipped: the chain is broken, at k or at the link k -> k+1.
    for i in 0..stored[k].len() {
        let mut bad = stored.clone();
        bad[k][i] ^= 0x01;
        let err = verify(&bad, Some(run.case.head())).unwrap_err();
        assert!(
            err.seq == k as u64 || err.seq == k as u64 + 1,
            "byte {i}: {err}"
        );
    }
    // A flip in its prev_hash, or one that makes it unreadable, is reported at k itself.
    for i in prev_hash_range(&stored[k]) {
        let mut bad = stored.clone();
        bad[k][i] ^= 0x01;
        assert_eq!(verify(&bad, None).unwrap_err().seq, k as u64);
    }
    let mut bad = stored.clone();
    bad[k][0] = b'[';
    assert_eq!(verify(&bad, None).unwrap_err().seq, k as u64);
}

#[test]

fn verify_names_the_event_whose_byte_was_flipped() {
    let (run, _) = full_run();
    let stored = run.stored();
    let k = 3;
    for i in 0..stored[k].len() {
        let mut bad = stored.clone();
        bad[k][i] ^= 0x01;
        let err = verify(&bad, Some(run.case.head())).unwrap_err();
        assert_eq!(
            err.seq, k as u64,
            "byte {i} ({:?}): {err}",
            bad[k][i] as char
        );
    }
}

#[test]
fn verify_catches_a_change_to_the_last_event_only_with_the_head() {
    let (run, _) = full_run();
    let mut stored = run.stored();
    let last = stored.len() - 1;
    // Change the recorded reason of the last event, keeping valid JSON.
    let text = String::from_utf8(stored[last].clone()).unwrap();
    assert!(text.contains("\"reason\":\"理由\""));
    stored[last] = text
        .replace("\"reason\":\"理由\"", "\"reason\":\"改了\"")
        .into_bytes();
    assert_eq!(
        verify(&stored, None),
        Ok(()),
        "nothing follows it to notice"
    );
    let err = verify(&stored, Some(run.case.head())).unwrap_err();
    assert_eq!(err.seq, last as u64);
    // Dropping the last event is caught by the head too.
    let err = verify(&run.stored()[..last], Some(run.case.head())).unwrap_err();
    assert_eq!(err.seq, last as u64 - 1);
}

#[test]
fn verify_checks_numbering_and_case() {
    let (run, _) = full_run();
    let stored = run.stored();
    // Swapping two events breaks the numbering at the first of them.
    let mut swapped = stored.clone();
    swapped.swap(2, 3);
    assert_eq!(verify(&swapped, None).unwrap_err().seq, 2);
}

#[test]
fn a_case_runs_on_the_version_it_was_opened_with() {
    let rules = rules(&[
        ("versioned.v1.toml", VERSIONED_V1),
        ("versioned.v2.toml", VERSIONED_V2),
    ]);
    assert_eq!(rules.len(), 2);
    assert_eq!(rules.get("versioned", None).unwrap().version, 2);
    let v1 = rules.get("versioned", Some(1)).unwrap().clone();
    assert_eq!(v1.version, 1);

    let mut run = Run::open_on(
        rules.clone(),
        "versioned",
        Some(1),
        json!({}),
        "2025-09-29T10:00:00",
    );
    assert_eq!(run.case.procedure().version, 1);
    assert_eq!(run.case.view().procedure_version, 1);
    // v2's action does not exist on v1.
    let r = run.refuse(cmd("escalate", "clerk", "2025-09-29T11:00:00"));
    assert_eq!(r.kinds(), vec![ReasonKind::UnknownAction]);
    run.ok(cmd("close", "clerk", "2025-09-29T11:00:00"));

    let replayed = Case::replay(&rules, &run.events()).unwrap();
    assert_eq!(replayed.procedure().version, 1);
    assert!(Arc::ptr_eq(replayed.procedure(), &v1));
    assert_eq!(replayed, run.case);

    // A case opened on the newest takes v2.
    let mut run2 = Run::open_on(
        rules.clone(),
        "versioned",
        None,
        json!({}),
        "2025-09-29T10:00:00",
    );
    run2.ok(cmd("escalate", "clerk", "2025-09-29T11:00:00"));
    let replayed = Case::replay(&rules, &run2.events()).unwrap();
    assert_eq!(replayed.procedure().version, 2);
    assert_eq!(replayed.state(), "escalated");

    // Without v1 loaded, the v1 case cannot be replayed.
    let only_v2 = self::rules(&[("versioned.v2.toml", VERSIONED_V2)]);
    assert!(Case::replay(&only_v2, &run.events()).is_err());
}

/// Walking a history page by page (each page resumed at the last event of the one before)
/// finds the same first broken link as checking it whole, for a change to any byte of any event.
#[test]
fn a_chain_walked_in_pages_breaks_where_the_whole_one_does() {
    use fazhi_core::runtime::{BreakKind, ChainWalk};
    let (run, _) = full_run();
    let stored = run.stored();
    let head = run.case.head();
    let walk_pages =
        |bad: &[Vec<u8>], size: usize| -> Result<(), fazhi_core::runtime::BrokenLink> {
            let mut from = 0usize;
            loop {
                // A page repeats the event before it (resumed there) and looks one event ahead.
                let start = from.saturating_sub(1);
                let end = (from + size + 1).min(bad.len());
                let mut walk = if from == 0 {
                    ChainWalk::new()
                } else {
                    ChainWalk::resume_at(start as u64)
                };
                for b in &bad[start..end] {
                    walk.push(b)?;
                }
                if from + size >= bad.len() {
                    return walk.finish(Some(head)).map(|_| ());
                }
                from += size;
            }
        };
    assert_eq!(walk_pages(&stored, 2), Ok(()));
    for k in 0..stored.len() {
        for i in (0..stored[k].len()).step_by(7) {
            let mut bad = stored.clone();
            bad[k][i] ^= 0x01;
            let whole = verify(&bad, Some(head));
            for size in [1, 2, 3] {
                assert_eq!(
                    walk_pages(&bad, size),
                    whole,
                    "event {k} byte {i} pages of {size}"
                );
            }
        }
    }
    let mut bad = stored.clone();
    bad[1][0] = b'[';
    assert_eq!(verify(&bad, None).unwrap_err().kind, BreakKind::Undecodable);
    let err = verify(&stored[..stored.len() - 1], Some(head)).unwrap_err();
    assert_eq!(err.kind, BreakKind::HeadMismatch);
    assert!(err.problem_zh.contains("哈希"), "{}", err.problem_zh);
}
