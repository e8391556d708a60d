//! The clock features of time rules on `tests/language/clocks.toml` (the OGI regulation's
//! reply period): `after` lists, clock stops, extensions from the payload capped by the
//! maximum, `applies_if` and deadlines on payload dates, with replay giving the same case.
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
use fazhi_core::model::{Procedure, RuleSet};
use fazhi_core::runtime::{
    Actor, Case, Command, Deadline, DeadlineStatus, Event, Opening, ReasonKind,
};
use fazhi_core::time::Calendar;
use serde_json::json;

const CLOCKS: &str = include_str!("../../../tests/language/clocks.toml");

fn calendar() -> Calendar {
    let mut c = Calendar::new();
    c.add_year(Calendar::parse_year(include_str!("../../../rules/calendars/2025.toml")).unwrap())
        .unwrap();
    c
}

fn rules() -> RuleSet {
    let loaded = load(&[SourceFile::new("clocks.toml", CLOCKS)]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    loaded.rules
}

fn cst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
        .unwrap()
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct Run {
    rules: RuleSet,
    case: Case,
    events: Vec<Event>,
    cal: Calendar,
}

impl Run {
    fn new() -> Run {
        let rules = rules();
        let p: Arc<Procedure> = rules.get("clocks", None).unwrap().clone();
        let (case, rec) = Case::open_recorded(
            &p,
            Opening {
                case: "c1".into(),
                title: String::new(),
                actor: Actor::new("o", ["office"]),
                at: cst("2025-03-03T09:00:00"),
                facts: json!({ "received_on": "2025-03-03" }),
                imported: false,
            },
        )
        .unwrap();
        Run {
            rules,
            case,
            events: vec![rec.event],
            cal: calendar(),
        }
    }
    fn step(&mut self, action: &str, role: &str, at: &str, payload: serde_json::Value) {
        let c = Command::new(action, Actor::new(role, [role]), cst(at)).with_payload(payload);
        let rec = self.case.decide_record(c, &self.cal).unwrap();
        self.events.push(rec.event);
        let replayed = Case::replay(&self.rules, &self.events).unwrap();
        assert_eq!(replayed, self.case, "replay after `{action}`");
    }
    fn deadline(&self, rule: &str, at: &str) -> Deadline {
        self.case
            .deadlines(cst(at), &self.cal)
            .into_iter()
            .find(|d| d.rule == rule)
            .unwrap()
    }
}

#[test]
fn the_latest_anchor_that_happened_counts() {
    let mut run = Run::new();
    let d = run.deadline("reply_limit", "2025-03-04T09:00:00");
    assert_eq!(
        (d.last_day, d.after.as_str()),
        (Some(day("2025-03-31")), "received_on")
    );
    run.step(
        "request_supplement",
        "office",
        "2025-03-05T09:00:00",
        json!({}),
    );
    run.step(
        "receive_supplement",
        "applicant",
        "2025-03-10T09:00:00",
        json!({}),
    );
    let d = run.deadline("reply_limit", "2025-03-10T10:00:00");
    assert_eq!(
        (d.last_day, d.after.as_str()),
        (Some(day("2025-04-08")), "receive_supplement")
    );
}

#[test]
fn a_stopped_clock_resumes_for_what_was_left() {
    let mut run = Run::new();
    run.step(
        "start_consultation",
        "office",
        "2025-03-07T09:00:00",
        json!({}),
    );
    // Stopped: the due time is reckoned as if the clock resumed at the time asked.
    let d = run.deadline("reply_limit", "2025-03-07T10:00:00");
    assert_eq!(d.status, DeadlineStatus::Stopped);
    let d = run.deadline("reply_limit", "2025-04-30T10:00:00");
    assert_eq!(d.status, DeadlineStatus::Stopped);
    assert!(d.due > cst("2025-04-30T10:00:00"));
    // A stopped deadline is not due: nothing for the store's listings to sort or flag.
    assert_eq!(
        run.case.next_due(cst("2025-04-30T10:00:00"), &run.cal),
        None
    );
    run.step(
        "end_consultation",
        "office",
        "2025-03-21T09:00:00",
        json!({}),
    );
    let d = run.deadline("reply_limit", "2025-03-21T10:00:00");
    assert_eq!(
        (d.status, d.last_day),
        (DeadlineStatus::Pending, Some(day("2025-04-15")))
    );
    // A second stop, inside one day, changes nothing.
    run.step(
        "start_consultation",
        "office",
        "2025-03-24T09:00:00",
        json!({}),
    );
    run.step(
        "end_consultation",
        "office",
        "2025-03-24T17:00:00",
        json!({}),
    );
    let d = run.deadline("reply_limit", "2025-03-24T18:00:00");
    assert_eq!(d.last_day, Some(day("2025-04-15")));
    assert_eq!(
        run.case.next_due(cst("2025-03-25T09:00:00"), &run.cal),
        Some(d.due)
    );
}

#[test]
fn an_extension_from_the_payload_is_capped_by_the_maximum() {
    let mut run = Run::new();
    let too_long = Command::new(
        "extend",
        Actor::new("h", ["office_head"]),
        cst("2025-03-28T09:00:00"),
    )
    .with_payload(json!({ "days": 21 }));
    let refusal = run.case.decide(too_long, &run.cal).unwrap_err();
    assert_eq!(refusal.reasons.len(), 1);
    let r = &refusal.reasons[0];
    assert_eq!(r.kind, ReasonKind::PayloadInvalid);
    assert_eq!(r.field.as_deref(), Some("payload.days"));
    assert_eq!(r.rule.as_deref(), Some("reply_limit"));
    assert!(
        r.message_en.contains("from 1 to 20 working days"),
        "{}",
        r.message_en
    );
    assert!(
        r.message_zh.contains("延长期限须为1个工作日至20个工作日"),
        "{}",
        r.message_zh
    );
    let zero = Command::new(
        "extend",
        Actor::new("h", ["office_head"]),
        cst("2025-03-28T09:00:00"),
    )
    .with_payload(json!({ "days": 0 }));
    assert!(run.case.decide(zero, &run.cal).is_err());
    run.step(
        "extend",
        "office_head",
        "2025-03-28T09:30:00",
        json!({ "days": 10 }),
    );
    let d = run.deadline("reply_limit", "2025-03-28T10:00:00");
    assert!(d.extended);
    assert_eq!(d.last_day, Some(day("2025-04-15")));
    // The maximum is allowed (the latest extension counts); Sun 04-27 is a make-up working day.
    run.step(
        "extend",
        "office_head",
        "2025-03-28T11:00:00",
        json!({ "days": 20 }),
    );
    let d = run.deadline("reply_limit", "2025-03-28T12:00:00");
    assert_eq!(d.last_day, Some(day("2025-04-28")));
}

#[test]
fn applies_if_and_a_deadline_on_a_payload_date() {
    let mut run = Run::new();
    assert!(
        run.case
            .deadlines(cst("2025-03-04T09:00:00"), &run.cal)
            .iter()
            .all(|d| d.rule != "later_reply_limit"),
        "no date given yet: the period has not started"
    );
    run.step(
        "set_later_deadline",
        "office",
        "2025-03-10T09:00:00",
        json!({ "reply_by": "2025-05-05" }),
    );
    assert_eq!(
        run.deadline("reply_limit", "2025-03-10T10:00:00").status,
        DeadlineStatus::Waived
    );
    let d = run.deadline("later_reply_limit", "2025-03-10T10:00:00");
    assert_eq!(
        (d.status, d.last_day, d.after.as_str()),
        (
            DeadlineStatus::Pending,
            Some(day("2025-05-06")),
            "set_later_deadline.payload.reply_by"
        )
    );
    // `late(later_reply_limit)`: a late reply must record why.
    let bare = Command::new(
        "reply",
        Actor::new("office", ["office"]),
        cst("2025-05-07T09:00:00"),
    );
    let refusal = run.case.decide(bare.clone(), &run.cal).unwrap_err();
    assert_eq!(refusal.reasons[0].kind, ReasonKind::ReasonMissing);
    let rec = run
        .case
        .decide_record(bare.with_reason("材料复杂"), &run.cal)
        .unwrap();
    run.events.push(rec.event);
    assert_eq!(Case::replay(&run.rules, &run.events).unwrap(), run.case);
    let d = run.deadline("later_reply_limit", "2025-05-08T10:00:00");
    assert_eq!(d.status, DeadlineStatus::Late);
    assert!(d.late);
}

#[test]
fn overdue_and_late_in_guards_at_the_commands_time() {
    let mut run = Run::new();
    let complain = |at: &str| Command::new("complain", Actor::new("a", ["applicant"]), cst(at));
    // Due Mon 03-31: not overdue during that day, overdue from 04-01.
    let r = run
        .case
        .decide(complain("2025-03-31T23:59:00"), &run.cal)
        .unwrap_err();
    assert_eq!(r.reasons[0].kind, ReasonKind::GuardFalse);
    assert!(
        run.case
            .decide(complain("2025-04-01T00:00:00"), &run.cal)
            .is_ok()
    );
    // What is possible says the same at each time.
    let allowed = |at: &str| {
        run.case
            .available_actions(&Actor::new("a", ["applicant"]), cst(at), &run.cal)
            .into_iter()
            .find(|o| o.id == "complain")
            .unwrap()
            .allowed
    };
    assert!(!allowed("2025-03-31T12:00:00"));
    assert!(allowed("2025-04-01T12:00:00"));
    // Replying in time needs no reason; once stopped, neither overdue nor late.
    run.step(
        "start_consultation",
        "office",
        "2025-03-07T09:00:00",
        json!({}),
    );
    assert!(
        run.case
            .decide(complain("2025-04-10T09:00:00"), &run.cal)
            .is_err()
    );
}
