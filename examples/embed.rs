//! Embedding fazhi-core: load a procedure, open a case, ask what may be done and why not,
//! act, read the deadlines, check the hash chain, and store and replay the history.
//!
//! Run it with `cargo run --example embed` (CI runs it). Everything it prints is checked
//! with `assert!`, so a change in the core's behaviour stops it.
//!
//! The core does no IO and reads no clock: this program reads nothing from disk either (the
//! rule file and the calendar are compiled in) and passes every time as an argument.

use chrono::{DateTime, TimeZone, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::runtime::{
    Actor, Case, Command, DeadlineStatus, DocumentRef, Event, Opening, ReasonKind, verify,
};
use fazhi_core::time::Calendar;

/// 09:00 China time on a day of 2025.
fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, month, day, 1, 0, 0)
        .single()
        .unwrap_or_default()
}

fn document(kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.into(),
        name: format!("{kind}.pdf"),
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        uri: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Load: the shipped village-rules filing procedure and the laws it cites. Diagnostics
    //    carry file, line and column; a procedure with an error is not loaded.
    let loaded = load(&[
        SourceFile::new(
            "rules/village-rules-filing.toml",
            include_str!("../rules/village-rules-filing.toml"),
        ),
        SourceFile::new("rules/laws.toml", include_str!("../rules/laws.toml")),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let procedure = loaded
        .rules
        .get("village-rules-filing", None)
        .ok_or("the procedure did not load")?;
    println!("loaded {} v{}", procedure.meta.title, procedure.version);

    // The procedure speaks in names: every action with where it may be taken from, where it
    // leads, who may take it and the articles it cites. (References are views borrowed from
    // the procedure; no index is ever shown.)
    assert_eq!(procedure.initial_state().id(), "adopted");
    for action in procedure.actions() {
        let roles: Vec<&str> = action.roles().map(|r| r.title()).collect();
        let from: Vec<String> = action.from().map(|p| p.title()).collect();
        let to = action
            .to()
            .map(|p| p.title())
            .unwrap_or_else(|| "（原处）".into());
        let articles: Vec<String> = action.citations().iter().map(|c| c.readable()).collect();
        println!(
            "  {}：{} → {}，由{}办理（{}）",
            action.title(),
            from.join("、"),
            to,
            roles.join("、"),
            articles.join("；")
        );
    }
    let submit = procedure.action("submit").ok_or("no submit")?;
    assert_eq!(submit.title(), "报乡镇人民政府备案");
    assert_eq!(submit.title_en(), Some("file the rules with the town"));
    assert_eq!(
        submit.roles().map(|r| r.id()).collect::<Vec<_>>(),
        ["village"]
    );
    assert_eq!(
        submit.from().map(|p| p.id()).collect::<Vec<_>>(),
        ["adopted", "correcting"]
    );
    assert_eq!(submit.to().map(|p| p.id()).as_deref(), Some("submitted"));
    assert_eq!(
        submit.documents().map(|d| d.title()).collect::<Vec<_>>(),
        ["村规民约文本", "村民会议记录"]
    );
    assert_eq!(
        submit.citations().first().map(|c| c.readable()).as_deref(),
        Some("《村民委员会组织法》第二十七条第一款")
    );

    // The official calendar of 2025 (the State Council's notice), for working days.
    let mut calendar = Calendar::new();
    calendar.add_year(Calendar::parse_year(include_str!(
        "../rules/calendars/2025.toml"
    ))?)?;

    // 2. Open a case: who, when, and the facts the procedure requires.
    let village = Actor::new("village-3", ["village"]);
    let office = Actor::new("justice-office", ["judicial_office"]);
    let (mut case, opened) = Case::open_recorded(
        procedure,
        Opening {
            case: "case-1".into(),
            title: "某村村规民约备案".into(),
            actor: village.clone(),
            at: at(3, 3),
            facts: serde_json::json!({ "adopted_on": "2025-03-01" }),
            imported: false,
        },
    )?;
    let mut stored = vec![opened.bytes];

    // 3. What may the judicial office do now, and why not? Every reason cites its article.
    let options = case.available_actions(&office, at(3, 3), &calendar);
    let find_lawful = options
        .iter()
        .find(|o| o.id == "find_lawful")
        .ok_or("no find_lawful")?;
    assert!(!find_lawful.allowed);
    let reason = find_lawful.reasons.first().ok_or("no reason")?;
    assert_eq!(reason.kind, ReasonKind::WrongState);
    println!(
        "{}: not now ({:?}, {})",
        find_lawful.title,
        reason.kind,
        reason.citation.as_deref().unwrap_or("-")
    );

    // A refused command changes nothing and says everything that is wrong.
    let refusal = case
        .decide(
            Command::new("find_lawful", office.clone(), at(3, 3)),
            &calendar,
        )
        .err()
        .ok_or("find_lawful was not refused")?;
    assert_eq!(
        refusal.kinds(),
        vec![ReasonKind::WrongState, ReasonKind::DocumentMissing]
    );
    assert_eq!(case.state(), "adopted");

    // 4. Act: the village submits its rules with the documents the action needs.
    let submit = Command::new("submit", village.clone(), at(3, 5))
        .with_document(document("rules_text"))
        .with_document(document("meeting_record"));
    let recorded = case.decide_record(submit, &calendar)?;
    stored.push(recorded.bytes);
    assert_eq!(case.state(), "submitted");

    // 5. Deadlines: the 10 days to file ran from the adoption (Sat 1 March) to Tue 11 March,
    //    met on 5 March. Times on the wire are China time.
    let deadlines = case.deadlines(at(3, 5), &calendar);
    let filing = deadlines
        .iter()
        .find(|d| d.rule == "filing_limit")
        .ok_or("no filing_limit")?;
    assert_eq!(filing.status, DeadlineStatus::Met);
    assert_eq!(
        filing.due_date.map(|d| d.to_string()).as_deref(),
        Some("2025-03-11")
    );
    println!(
        "{}: {:?}, due {}",
        filing.title,
        filing.status,
        fazhi_core::time::china::rfc3339(filing.due)
    );

    let lawful =
        Command::new("find_lawful", office, at(3, 10)).with_document(document("review_opinion"));
    stored.push(case.decide_record(lawful, &calendar)?.bytes);
    assert_eq!(case.state(), "cleared");
    // The town files the rules found lawful (VCOL Art. 27(1)).
    let town = Actor::new("town-government", ["town"]);
    stored.push(
        case.decide_record(Command::new("accept_filing", town, at(3, 11)), &calendar)?
            .bytes,
    );
    assert_eq!(case.state(), "filed");

    // 6. The stored bytes form a hash chain; a changed byte is found.
    verify(&stored, Some(case.head()))?;
    let mut tampered = stored.clone();
    if let Some(b) = tampered.get_mut(1).and_then(|e| e.get_mut(10)) {
        *b ^= 1;
    }
    assert!(verify(&tampered, Some(case.head())).is_err());

    // 7. Serde round trip: the events read back from their bytes replay to the same case.
    let events = stored
        .iter()
        .map(|b| Event::from_bytes(b))
        .collect::<Result<Vec<_>, _>>()?;
    let replayed = Case::replay(&loaded.rules, &events)?;
    assert_eq!(replayed.state(), case.state());
    assert_eq!(replayed.head(), case.head());
    assert_eq!(
        serde_json::to_value(replayed.view())?,
        serde_json::to_value(case.view())?
    );
    println!(
        "{} events, chain verified, replayed to `{}`",
        events.len(),
        replayed.state()
    );
    Ok(())
}
