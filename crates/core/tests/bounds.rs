//! `max_times`: an action the law bounds is refused past its count (`too_many_times`, citing
//! the bound's article), per case or per entry of its state; the count survives replay; the
//! loader checks the bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::{BoundPer, Procedure, RuleSet};
use fazhi_core::runtime::{Actor, Case, Command, Event, Opening, ReasonKind, Recorded};
use fazhi_core::time::Calendar;
use serde_json::json;

const BOUNDED: &str = r#"
language = 1

[procedure]
id = "bounded"
version = 1
title = "有次数限制的程序"
initial = "review"
terminal = ["closed"]

[roles]
clerk = { title = "经办人" }

[states]
review = { title = "审查" }
correcting = { title = "补正" }
closed = { title = "办结" }

[actions.extend]
title = "延长审查期限"
from = ["review", "correcting"]
by = ["clerk"]
basis = "《政府信息公开条例》第三十三条第二款"
max_times = { n = 1, title = "延长以一次为限", basis = "《政府信息公开条例》第三十三条第二款" }

[actions.ask_correction]
title = "通知补正"
from = "review"
to = "correcting"
by = ["clerk"]
basis = "《政府信息公开条例》第三十条"

[actions.resubmit]
title = "补正后重新提交"
from = "correcting"
to = "review"
by = ["clerk"]
basis = "《政府信息公开条例》第三十条"

[actions.remind]
title = "催告"
from = "correcting"
by = ["clerk"]
basis = "《政府信息公开条例》第三十条"
max_times = { n = 2, per = "entry" }

[actions.close]
title = "办结"
from = ["review", "correcting"]
to = "closed"
by = ["clerk"]
basis = "《政府信息公开条例》第三十三条"
"#;

fn rules(text: &str) -> RuleSet {
    let loaded = load(&[SourceFile::new("bounded.toml", text)]);
    assert_eq!(loaded.errors(), 0, "{:#?}", loaded.diagnostics);
    loaded.rules
}

fn procedure(text: &str) -> Arc<Procedure> {
    rules(text).get("bounded", None).unwrap().clone()
}

fn clerk() -> Actor {
    Actor::new("clerk-1", ["clerk"])
}

struct Run {
    rules: RuleSet,
    case: Case,
    log: Vec<Recorded>,
    at: DateTime<Utc>,
    calendar: Calendar,
}

impl Run {
    fn new() -> Run {
        let at = DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let rules = rules(BOUNDED);
        let (case, opened) = Case::open_recorded(
            rules.get("bounded", None).unwrap(),
            Opening {
                case: "c-1".into(),
                title: "t".into(),
                actor: clerk(),
                at,
                facts: json!({}),
                imported: false,
            },
        )
        .unwrap();
        Run {
            rules,
            case,
            log: vec![opened],
            at,
            calendar: Calendar::new(),
        }
    }

    fn take(&mut self, action: &str) -> Result<(), Vec<ReasonKind>> {
        self.at += Duration::minutes(1);
        let mut next = self.case.clone();
        match next.decide_record(Command::new(action, clerk(), self.at), &self.calendar) {
            Ok(r) => {
                self.log.push(r);
                self.case = next;
                Ok(())
            }
            Err(refusal) => Err(refusal.kinds()),
        }
    }
}

#[test]
fn a_bounded_action_is_refused_past_its_count_citing_the_bound() {
    let mut run = Run::new();
    assert_eq!(run.take("extend"), Ok(()));
    let mut next = run.case.clone();
    let refusal = next
        .decide_record(
            Command::new("extend", clerk(), run.at + Duration::minutes(1)),
            &run.calendar,
        )
        .unwrap_err();
    assert_eq!(refusal.kinds(), vec![ReasonKind::TooManyTimes]);
    let r = &refusal.reasons[0];
    assert_eq!(
        r.message_zh,
        "“延长审查期限”在一个案件中至多办理1次，本案已办理1次（依据：《政府信息公开条例》第三十三条第二款）"
    );
    assert!(
        r.message_en.contains("at most 1 time in a case"),
        "{}",
        r.message_en
    );
    assert_eq!(r.article, Some(33));
    assert_eq!(r.paragraph, Some(2));
    // Per case: moving to another state and back does not start the count again.
    assert_eq!(run.take("ask_correction"), Ok(()));
    assert_eq!(run.take("extend"), Err(vec![ReasonKind::TooManyTimes]));
    // The caller is told before trying.
    let options = run.case.available_actions(&clerk(), run.at, &run.calendar);
    let extend = options.iter().find(|o| o.id == "extend").unwrap();
    assert!(!extend.allowed);
    assert_eq!(extend.reasons[0].kind, ReasonKind::TooManyTimes);
}

#[test]
fn a_bound_per_entry_starts_again_when_the_state_is_entered_again() {
    let mut run = Run::new();
    assert_eq!(run.take("ask_correction"), Ok(()));
    assert_eq!(run.take("remind"), Ok(()));
    assert_eq!(run.take("remind"), Ok(()));
    let refused = run.take("remind");
    assert_eq!(refused, Err(vec![ReasonKind::TooManyTimes]));
    assert_eq!(run.take("resubmit"), Ok(()));
    // Out of its state it is the state that refuses, not the count.
    assert_eq!(run.take("remind"), Err(vec![ReasonKind::WrongState]));
    assert_eq!(run.take("ask_correction"), Ok(()));
    assert_eq!(run.take("remind"), Ok(()));
    assert_eq!(run.take("remind"), Ok(()));
    assert_eq!(run.take("remind"), Err(vec![ReasonKind::TooManyTimes]));

    // Replaying the history gives the same case, counts included.
    let events: Vec<Event> = run.log.iter().map(|r| r.event.clone()).collect();
    let replayed = Case::replay(&run.rules, &events).unwrap();
    assert!(replayed == run.case);
    let mut again = Run {
        rules: run.rules.clone(),
        case: replayed,
        log: Vec::new(),
        at: run.at,
        calendar: Calendar::new(),
    };
    assert_eq!(again.take("remind"), Err(vec![ReasonKind::TooManyTimes]));
}

#[test]
fn the_loader_checks_the_bound() {
    let p = procedure(BOUNDED);
    let extend = p.action("extend").unwrap();
    let bound = extend.max_times().unwrap();
    assert_eq!((bound.n, bound.per), (1, BoundPer::Case));
    let remind = p.action("remind").unwrap();
    assert_eq!(remind.max_times().unwrap().per, BoundPer::Entry);
    let plain = BOUNDED.replace(
        r#"max_times = { n = 1, title = "延长以一次为限", basis = "《政府信息公开条例》第三十三条第二款" }"#,
        "max_times = 3",
    );
    assert_eq!(
        procedure(&plain)
            .actions()
            .next()
            .unwrap()
            .max_times()
            .unwrap()
            .n,
        3
    );
    for (bad, code) in [
        ("max_times = 0", "invalid-bound"),
        ("max_times = -1", "invalid-bound"),
        ("max_times = 4294967296", "invalid-bound"),
        (r#"max_times = { n = 1, per = "week" }"#, "invalid-bound"),
        (r#"max_times = { per = "case" }"#, "missing-key"),
        (r#"max_times = { n = 1, every = 2 }"#, "unknown-key"),
        (r#"max_times = "once""#, "wrong-type"),
        (
            r#"max_times = { n = 1, basis = "《不存在的法》第一条" }"#,
            "unknown-law",
        ),
    ] {
        let text = BOUNDED.replace(
            r#"max_times = { n = 1, title = "延长以一次为限", basis = "《政府信息公开条例》第三十三条第二款" }"#,
            bad,
        );
        let loaded = load(&[
            SourceFile::new("bounded.toml", text),
            SourceFile::new("laws.toml", include_str!("../../../rules/laws.toml")),
        ]);
        assert!(
            loaded.diagnostics.iter().any(|d| d.code == code),
            "{bad}: {:#?}",
            loaded.diagnostics
        );
    }
    // Only the law bounds repetition: a bound with no basis on an action with none is refused.
    let text = BOUNDED.replace(
        "by = [\"clerk\"]\nbasis = \"《政府信息公开条例》第三十条\"\nmax_times = { n = 2, per = \"entry\" }",
        "by = [\"clerk\"]\nmax_times = { n = 2, per = \"entry\" }",
    );
    assert_ne!(text, BOUNDED);
    let loaded = load(&[SourceFile::new("bounded.toml", text)]);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == "bound-without-basis"),
        "{:#?}",
        loaded.diagnostics
    );
}
