#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! The year in figures (issue 18), must-show: a synthetic town year with the seed's 2021
//! volumes (35 + 23 + 11 reviews, 98 + 41 penalty cases, 138 mediations, 1 major decision),
//! realistic dates and outcomes, brought in through the importer (`fazhi import`), gives
//! exactly the seed's figures from `fazhi report` and from `GET /v1/reports/annual`; every
//! figure's `GET /v1/cases?report=…` lists exactly the cases counted, and only those the
//! caller may read.
//!
//! The expected figures are read from the seed's own text (`tests/fixtures/seed/`). The year
//! is generated so that a counting bug changes the result: cases just outside the year in
//! China time (2020-12-31 23:30, 2022-01-01 00:10: the other year in UTC), a review opened in
//! December 2020 and concluded in 2021 (counted by its conclusion), reviews and a decision
//! begun in 2021 but not concluded, a penalty case never filed, a dispute refused mediation,
//! and two groups per split figure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use fazhi::calendars::load_calendar_dir;
use fazhi::files::{FileKind, find, read};
use fazhi_core::load::load;
use fazhi_core::model::{Procedure, RuleSet};
use fazhi_core::runtime::{Actor, Case, Command, DocumentRef, Opening, Recorded};
use fazhi_core::time::Calendar;
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../crates/http/tests/helpers/document.rs"]
mod document;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// China time.
fn china(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The `i`-th of `n` working mornings spread over 2021 (weekends moved to Monday), 09:00.
fn morning(i: usize, n: usize) -> DateTime<Utc> {
    let mut d = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap() + Duration::days((i * 340 / n) as i64);
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d += Duration::days(1);
    }
    china(d.year(), d.month(), d.day(), 9, 0)
}

/// The number right after `marker` in the seed (the first occurrence followed by digits).
fn seed_figure(text: &str, marker: &str) -> u64 {
    for (at, _) in text.match_indices(marker) {
        let digits: String = text[at + marker.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() {
            return digits.parse().unwrap();
        }
    }
    panic!("the seed has no figure after `{marker}`")
}

fn doc(kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.into(),
        name: format!("{kind}.pdf"),
        sha256: "a".repeat(64),
        uri: None,
    }
}

/// Builds cases with the core and writes them as `fazhi export` lines.
struct Year {
    rules: RuleSet,
    calendar: Calendar,
    lines: Vec<String>,
    /// Per (figure, group): the ids of the cases that must be behind it.
    expect: BTreeMap<(String, Option<String>), BTreeSet<String>>,
}

impl Year {
    fn procedure(&self, id: &str) -> Arc<Procedure> {
        self.rules.get(id, None).unwrap().clone()
    }

    fn line(&mut self, r: &Recorded) {
        self.lines.push(format!(
            r#"{{"hash":"{}","event":{}}}"#,
            r.hash.as_str(),
            String::from_utf8(r.bytes.clone()).unwrap()
        ));
    }

    fn open(
        &mut self,
        procedure: &str,
        id: &str,
        by: (&str, &str),
        at: DateTime<Utc>,
        facts: Value,
    ) -> Case {
        let p = self.procedure(procedure);
        let (case, r) = Case::open_recorded(
            &p,
            Opening {
                case: id.into(),
                title: format!("{} {id}", p.meta.title),
                actor: Actor::new(by.0, [by.1]),
                at,
                facts,
                imported: true,
            },
        )
        .unwrap_or_else(|e| panic!("{id}: opening refused: {e:?}"));
        self.line(&r);
        case
    }

    fn act(
        &mut self,
        case: &mut Case,
        action: &str,
        by: (&str, &str),
        at: DateTime<Utc>,
        payload: Value,
        docs: &[&str],
    ) {
        let mut cmd = Command::new(action, Actor::new(by.0, [by.1]), at);
        cmd.payload = payload;
        cmd.imported = true;
        for d in docs {
            cmd = cmd.with_document(doc(d));
        }
        let r = case
            .decide_record(cmd, &self.calendar)
            .unwrap_or_else(|e| panic!("{}: `{action}` refused: {e:?}", case.id()));
        self.line(&r);
    }

    fn counts(&mut self, figure: &str, group: Option<&str>, id: &str) {
        self.expect
            .entry((figure.into(), None))
            .or_default()
            .insert(id.into());
        if let Some(g) = group {
            self.expect
                .entry((figure.into(), Some(g.into())))
                .or_default()
                .insert(id.into());
        }
    }

    /// A legality review of `kind`, opened at `at`; concluded (lawful, or unlawful every
    /// seventh) at `concluded` when given.
    fn review(
        &mut self,
        id: &str,
        kind: &str,
        at: DateTime<Utc>,
        concluded: Option<DateTime<Utc>>,
        unlawful: bool,
    ) {
        let drafting = ("finance-office", "drafting_unit");
        let mut c = self.open("legality-review", id, drafting, at, json!({ "kind": kind }));
        self.act(
            &mut c,
            "submit",
            drafting,
            at + Duration::minutes(5),
            json!({}),
            &["draft", "basis_materials"],
        );
        let Some(concluded) = concluded else { return };
        let office = ("judicial-office", "judicial_office");
        if unlawful {
            self.act(
                &mut c,
                "find_unlawful",
                office,
                concluded,
                json!({ "findings": "违约责任条款与《民法典》第五百八十五条不符" }),
                &["review_opinion"],
            );
        } else {
            self.act(
                &mut c,
                "find_lawful",
                office,
                concluded,
                json!({}),
                &["review_opinion"],
            );
            self.act(
                &mut c,
                "proceed",
                ("town", "town"),
                concluded + Duration::minutes(10),
                json!({}),
                &[],
            );
        }
    }

    /// A village's rules, reviewed (lawful, or unlawful for the last) and filed.
    fn village_rules(&mut self, id: &str, at: DateTime<Utc>, unlawful: bool) {
        let village = ("village-committee", "village");
        let adopted = (at - Duration::days(3))
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .date_naive();
        let mut c = self.open(
            "village-rules-filing",
            id,
            village,
            at,
            json!({ "adopted_on": adopted.to_string() }),
        );
        self.act(
            &mut c,
            "submit",
            village,
            at + Duration::minutes(5),
            json!({}),
            &["rules_text", "meeting_record"],
        );
        let office = ("judicial-office", "judicial_office");
        if unlawful {
            self.act(
                &mut c,
                "find_unlawful",
                office,
                at + Duration::days(2),
                json!({ "findings": "第八条限制外嫁女土地承包权", "ground": "infringes_rights" }),
                &["review_opinion"],
            );
        } else {
            self.act(
                &mut c,
                "find_lawful",
                office,
                at + Duration::days(2),
                json!({}),
                &["review_opinion"],
            );
            self.act(
                &mut c,
                "accept_filing",
                ("town", "town"),
                at + Duration::days(3),
                json!({}),
                &[],
            );
        }
    }

    fn penalty_facts(at: DateTime<Utc>) -> Value {
        let day = at
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .date_naive();
        json!({ "party_type": "individual", "power_source": "devolved", "power_published": true, "violation_date": day.to_string() })
    }

    /// A fine decided on the spot (simple procedure).
    fn simple_penalty(&mut self, id: &str, at: DateTime<Utc>) {
        let officer = ("officer-zhang", "officer");
        let mut c = self.open("admin-penalty", id, officer, at, Self::penalty_facts(at));
        self.act(
            &mut c,
            "decide_on_the_spot",
            officer,
            at + Duration::minutes(5),
            json!({ "penalty": "fine", "fine": 50, "facts_conclusive": true, "id_shown": true, "rights_notified": true, "defence_heard_or_waived": true, "officers": 2, "certified": true }),
            &["decision_form"],
        );
    }

    /// A case filed (ordinary procedure), then not penalised, referred, or still open.
    fn ordinary_penalty(&mut self, id: &str, at: DateTime<Utc>, end: usize) {
        let agency = ("enforcement-team", "agency");
        let head = ("team-leader", "agency_head");
        let mut c = self.open("admin-penalty", id, agency, at, Self::penalty_facts(at));
        self.act(
            &mut c,
            "file_case",
            agency,
            at + Duration::minutes(30),
            json!({}),
            &["filing_record"],
        );
        match end % 3 {
            0 => self.act(
                &mut c,
                "decide_no_penalty",
                head,
                at + Duration::days(3),
                json!({ "ground": "minor" }),
                &["process_record", "no_penalty_decision"],
            ),
            1 => self.act(
                &mut c,
                "refer_to_judicial",
                head,
                at + Duration::days(4),
                json!({}),
                &["process_record", "referral_letter"],
            ),
            _ => {}
        }
    }

    /// A dispute: both sides consent, mediation starts at `at`, a written or an oral
    /// agreement (or none yet).
    fn dispute(&mut self, id: &str, party: &str, at: DateTime<Utc>, end: usize) {
        let p = (party, "party");
        let committee = ("mediation-committee", "committee");
        let mut c = self.open(
            "mediation",
            id,
            p,
            at - Duration::hours(2),
            json!({ "started_by": "application" }),
        );
        self.act(
            &mut c,
            "consent",
            p,
            at - Duration::hours(1),
            json!({ "side": "applicant" }),
            &["consent_record"],
        );
        self.act(
            &mut c,
            "consent",
            p,
            at - Duration::minutes(30),
            json!({ "side": "respondent" }),
            &["consent_record"],
        );
        self.act(
            &mut c,
            "start_mediation",
            committee,
            at,
            json!({ "mediators": "王调解员", "chosen_by_parties": false }),
            &["application"],
        );
        match end % 4 {
            0 | 1 => self.act(
                &mut c,
                "reach_written_agreement",
                committee,
                at + Duration::days(5),
                json!({}),
                &["written_agreement"],
            ),
            2 => self.act(
                &mut c,
                "reach_oral_agreement",
                committee,
                at + Duration::hours(3),
                json!({ "written_requested": false, "performed_at_once": true }),
                &["oral_agreement_record"],
            ),
            _ => {}
        }
    }
}

fn expected_group(end: usize, kinds: &[&'static str]) -> &'static str {
    kinds[end % kinds.len()]
}

/// The synthetic year; also returns the seed's figures, read from its text.
fn town_year(rules: RuleSet, calendar: Calendar) -> (Year, BTreeMap<&'static str, u64>) {
    let seed = std::fs::read_to_string(root().join("tests/fixtures/seed/changhe-2021-report.txt"))
        .unwrap();
    let figures: BTreeMap<&str, u64> = [
        ("contract", "合法性审查合同"),
        ("administrative_contract", "其他机关行政合同"),
        ("village_rules", "村规民约"),
        ("ordinary", "一般程序"),
        ("simple", "简易程序"),
        ("mediation", "调处矛盾纠纷"),
        ("major_decision", "重大行政决策事项"),
        ("reconsideration", "发生行政复议"),
        ("litigation", "提起行政诉讼案件"),
    ]
    .into_iter()
    .map(|(k, marker)| (k, seed_figure(&seed, marker)))
    .collect();
    // The seed says what the issue says.
    assert_eq!(
        figures.values().copied().collect::<Vec<_>>(),
        [23, 35, 0, 1, 138, 98, 0, 41, 11],
        "{figures:?}"
    );
    let mut y = Year {
        rules,
        calendar,
        lines: Vec::new(),
        expect: BTreeMap::new(),
    };

    // Legality reviews: contracts and administrative contracts, concluded in 2021.
    for (kind, n) in [
        ("contract", figures["contract"]),
        (
            "administrative_contract",
            figures["administrative_contract"],
        ),
    ] {
        let n = n as usize;
        for i in 0..n {
            let id = format!("lr-{kind}-{i:03}");
            // The first contract was opened in December 2020 and concluded in January.
            let at = if i == 0 && kind == "contract" {
                china(2020, 12, 28, 9, 0)
            } else {
                morning(i, n)
            };
            let concluded = if i == 0 && kind == "contract" {
                china(2021, 1, 5, 10, 0)
            } else {
                at + Duration::days(2)
            };
            y.review(&id, kind, at, Some(concluded), i % 7 == 3);
            y.counts("legality-review.reviews", Some(kind), &id);
        }
    }
    // Not counted: concluded on either side of the year in China time (each also opened
    // there), and one submitted in 2021 but not concluded.
    y.review(
        "lr-contract-before",
        "contract",
        china(2020, 12, 31, 23, 30),
        Some(china(2020, 12, 31, 23, 50)),
        false,
    );
    y.review(
        "lr-contract-after",
        "administrative_contract",
        china(2022, 1, 1, 0, 10),
        Some(china(2022, 1, 1, 0, 20)),
        false,
    );
    y.review(
        "lr-contract-pending",
        "contract",
        china(2021, 12, 28, 9, 0),
        None,
        false,
    );

    // Village rules: reviewed in 2021, one found unlawful; the last reviewed on 2021-12-31 at
    // 16:10 China time (08:10 UTC) and filed on 2022-01-01: counted by its review.
    let n = figures["village_rules"] as usize;
    for i in 0..n {
        let id = format!("vr-{i:03}");
        let unlawful = i == 3;
        let at = if i == n - 1 {
            china(2021, 12, 29, 16, 10)
        } else {
            morning(i, n)
        };
        y.village_rules(&id, at, unlawful);
        y.counts(
            "village-rules-filing.reviewed",
            Some(if unlawful { "unlawful" } else { "lawful" }),
            &id,
        );
    }

    // Penalty cases by the procedure used, counted in the year they were opened.
    let n = figures["simple"] as usize;
    for i in 0..n {
        let id = format!("ap-simple-{i:03}");
        y.simple_penalty(&id, morning(i, n) + Duration::hours(5));
        y.counts("admin-penalty.cases", Some("simple"), &id);
    }
    let n = figures["ordinary"] as usize;
    for i in 0..n {
        let id = format!("ap-ordinary-{i:03}");
        y.ordinary_penalty(&id, morning(i, n) + Duration::hours(1), i);
        y.counts("admin-penalty.cases", Some("ordinary"), &id);
    }
    y.simple_penalty("ap-simple-before", china(2020, 12, 31, 23, 30));
    y.ordinary_penalty("ap-ordinary-after", china(2022, 1, 1, 0, 10), 2);
    // Opened in 2021 but neither filed nor decided: the procedure is not known, not counted.
    let facts = Year::penalty_facts(china(2021, 11, 2, 9, 0));
    y.open(
        "admin-penalty",
        "ap-discovered",
        ("enforcement-team", "agency"),
        china(2021, 11, 2, 9, 0),
        facts,
    );

    // Disputes mediated, by the form of the agreement; three brought by the principal `party`.
    let n = figures["mediation"] as usize;
    let forms = ["written", "written", "oral", "unset"];
    for i in 0..n {
        let id = format!("md-{i:03}");
        let party = if i % 50 == 7 {
            "party".to_owned()
        } else {
            format!("resident-{i}")
        };
        y.dispute(&id, &party, morning(i, n) + Duration::hours(1), i);
        y.counts("mediation.disputes", Some(expected_group(i, &forms)), &id);
    }
    y.dispute("md-before", "resident-x", china(2020, 12, 31, 23, 30), 0);
    y.dispute("md-after", "resident-y", china(2022, 1, 1, 0, 10), 2);
    // Refused by a party: never mediated.
    let mut c = y.open(
        "mediation",
        "md-refused",
        ("resident-z", "party"),
        china(2021, 5, 6, 9, 0),
        json!({ "started_by": "application" }),
    );
    y.act(
        &mut c,
        "refuse_mediation",
        ("resident-z", "party"),
        china(2021, 5, 6, 10, 0),
        json!({}),
        &["refusal_record"],
    );

    // The major decision of the year (the 2025 scenario's path, on 2021's calendar).
    let (body, sponsor) = (
        ("town-government", "decision_body"),
        ("planning-office", "sponsor"),
    );
    let mut c = y.open(
        "major-decision",
        "mdc-2021-1",
        body,
        china(2021, 3, 1, 9, 0),
        json!({ "proposer": "department" }),
    );
    y.act(&mut c, "decide_to_start", body, china(2021, 3, 2, 9, 0), json!({ "category": "development_plan", "excluded_matter": false, "sponsor_unit": "镇规划办", "in_catalogue": true, "not_public": false, "affects_other_units": false, "affects_specific_group": false, "hearing_required_by_law": false, "professional_technical": false, "stability_or_safety_risk": false, "risk_already_assessed": false, "exploratory_reform": false, "affects_market_entities": false, "wide_public_concern": false }), &["start_decision", "proposal_assessment"]);
    y.act(&mut c, "open_consultation", sponsor, china(2021, 3, 3, 10, 0), json!({ "comment_deadline": "2021-04-02", "channel": "镇政府门户网站", "shortened": false }), &["draft_explanation"]);
    y.act(
        &mut c,
        "close_consultation",
        sponsor,
        china(2021, 4, 6, 9, 0),
        json!({}),
        &["opinion_record"],
    );
    y.act(
        &mut c,
        "conclude_participation",
        sponsor,
        china(2021, 4, 7, 9, 0),
        json!({}),
        &["opinion_adoption"],
    );
    y.act(
        &mut c,
        "submit_for_review",
        sponsor,
        china(2021, 4, 8, 9, 0),
        json!({}),
        &["draft_decision", "legal_basis", "procedure_account"],
    );
    y.act(
        &mut c,
        "find_lawful",
        ("judicial-office", "legality_reviewer"),
        china(2021, 4, 20, 9, 0),
        json!({}),
        &["legality_opinion", "legal_adviser_opinion"],
    );
    y.act(
        &mut c,
        "submit_for_discussion",
        sponsor,
        china(2021, 4, 21, 9, 0),
        json!({}),
        &["draft_decision", "legality_opinion", "opinion_adoption"],
    );
    y.act(
        &mut c,
        "decide_approve",
        ("town-head", "head"),
        china(2021, 4, 23, 9, 0),
        json!({ "meeting_kind": "executive", "majority_view": "approve", "dissent": false }),
        &["meeting_record"],
    );
    y.counts(
        "major-decision.decisions",
        Some("development_plan"),
        "mdc-2021-1",
    );
    // Started in 2021, not decided in it: not counted.
    let mut c = y.open(
        "major-decision",
        "mdc-2021-2",
        body,
        china(2021, 11, 1, 9, 0),
        json!({ "proposer": "department" }),
    );
    y.act(&mut c, "decide_to_start", body, china(2021, 11, 2, 9, 0), json!({ "category": "public_policy", "excluded_matter": false, "sponsor_unit": "镇农业办", "in_catalogue": true, "not_public": false, "affects_other_units": false, "affects_specific_group": false, "hearing_required_by_law": false, "professional_technical": false, "stability_or_safety_risk": false, "risk_already_assessed": false, "exploratory_reform": false, "affects_market_entities": false, "wide_public_concern": false }), &["start_decision", "proposal_assessment"]);
    (y, figures)
}

fn shipped_rules() -> RuleSet {
    let files = find(&[root().join("rules")], FileKind::Procedure).unwrap();
    let sources: Vec<_> = files.iter().map(|p| read(p).unwrap()).collect();
    let loaded = load(&sources);
    assert_eq!(loaded.errors(), 0);
    loaded.rules
}

fn fazhi(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Figure id → (total, group → count), from a report's JSON.
fn figures_of(report: &Value) -> BTreeMap<String, (u64, BTreeMap<String, u64>)> {
    let mut out = BTreeMap::new();
    for s in report["sections"].as_array().unwrap() {
        for f in s["figures"].as_array().unwrap() {
            let groups = f["groups"]
                .as_array()
                .map(|gs| {
                    gs.iter()
                        .map(|g| {
                            (
                                g["key"].as_str().unwrap().to_owned(),
                                g["count"].as_u64().unwrap(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.insert(
                f["id"].as_str().unwrap().to_owned(),
                (f["total"].as_u64().unwrap(), groups),
            );
        }
    }
    out
}

async fn get(client: &awc::Client, base: &str, path: &str, who: &str) -> (u16, Value, String) {
    let mut res = client
        .get(format!("{base}{path}"))
        .insert_header(("Authorization", format!("Bearer dev-{who}")))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = res.body().limit(16 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    document::follows_the_document("GET", path, status, content_type.as_deref(), &v, &text);
    (status, v, text)
}

#[actix_web::test]
async fn a_town_year_imported_gives_the_seed_figures_from_the_cli_and_the_api() {
    let rules = shipped_rules();
    let calendar = load_calendar_dir(&root().join("rules/calendars")).unwrap();
    let (year, seed) = town_year(rules.clone(), calendar.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("town-2021.ndjson");
    std::fs::write(&file, year.lines.join("\n") + "\n").unwrap();
    let db = dir.path().join("town.db");
    let (rules_dir, calendars_dir) = (root().join("rules"), root().join("rules/calendars"));
    let (code, out, err) = fazhi(&[
        "import",
        "--db",
        db.to_str().unwrap(),
        "--create-db",
        "--rules",
        rules_dir.to_str().unwrap(),
        "--calendars",
        calendars_dir.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");

    // The CLI, in JSON: exactly the seed's figures.
    let report = |format: &str| {
        fazhi(&[
            "report",
            "--db",
            db.to_str().unwrap(),
            "--year",
            "2021",
            "--format",
            format,
            "--rules",
            rules_dir.to_str().unwrap(),
        ])
    };
    let (code, json_out, err) = report("json");
    assert_eq!(code, 0, "{err}");
    let cli: Value = serde_json::from_str(&json_out).unwrap();
    let figures = figures_of(&cli);
    let group = |f: &str, g: &str| figures[f].1.get(g).copied().unwrap_or(0);
    assert_eq!(
        group("legality-review.reviews", "contract"),
        seed["contract"]
    );
    assert_eq!(
        group("legality-review.reviews", "administrative_contract"),
        seed["administrative_contract"]
    );
    assert_eq!(
        figures["legality-review.reviews"].0,
        seed["contract"] + seed["administrative_contract"]
    );
    assert_eq!(
        figures["village-rules-filing.reviewed"].0,
        seed["village_rules"]
    );
    assert_eq!(group("admin-penalty.cases", "ordinary"), seed["ordinary"]);
    assert_eq!(group("admin-penalty.cases", "simple"), seed["simple"]);
    assert_eq!(
        figures["admin-penalty.cases"].0,
        seed["ordinary"] + seed["simple"]
    );
    assert_eq!(figures["mediation.disputes"].0, seed["mediation"]);
    assert_eq!(
        figures["major-decision.decisions"].0,
        seed["major_decision"]
    );
    assert_eq!(
        figures["reconsideration-respondent.cases"].0,
        seed["reconsideration"]
    );
    assert_eq!(figures["litigation-respondent.cases"].0, seed["litigation"]);
    // The groups the generator made, the others 0.
    for ((figure, g), ids) in &year.expect {
        let n = ids.len() as u64;
        match g {
            None => assert_eq!(figures[figure].0, n, "{figure}"),
            Some(g) => assert_eq!(group(figure, g), n, "{figure} {g}"),
        }
    }
    assert!(cli.get("unreadable").is_none(), "{cli}");

    // Markdown reads like the seed's section; CSV has a row per group.
    let (code, md, _) = report("md");
    assert_eq!(code, 0);
    assert!(md.contains("# 2021年法治政府建设工作数据"), "{md}");
    assert!(
        md.contains("## 一（三） 推动行政决策科学民主，强化公共法律体系建设"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "合同 {}件 [案件](/v1/cases?report=legality-review.reviews&year=2021&group=contract)",
            seed["contract"]
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!("一般程序 {}件", seed["ordinary"]))
            && md.contains(&format!("简易程序 {}件", seed["simple"])),
        "{md}"
    );
    let three = md.find("一（三）").unwrap();
    let four = md.find("一（四）").unwrap();
    let five = md.find("一（五）").unwrap();
    assert!(
        three < four && four < five,
        "sections in the report's order: {md}"
    );
    let (code, csv, _) = report("csv");
    assert_eq!(code, 0);
    assert!(
        csv.contains(&format!(",一般程序,{},2021,", seed["ordinary"])),
        "{csv}"
    );
    // Another year counts only the cases just after it.
    let (code, out_2022, _) = fazhi(&[
        "report",
        "--db",
        db.to_str().unwrap(),
        "--year",
        "2022",
        "--format",
        "json",
        "--rules",
        rules_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let f2022 = figures_of(&serde_json::from_str(&out_2022).unwrap());
    assert_eq!(f2022["legality-review.reviews"].0, 1);
    assert_eq!(f2022["admin-penalty.cases"].0, 1);
    assert_eq!(f2022["mediation.disputes"].0, 1);

    // The service over the same file: the same figures, each listing exactly its cases.
    let config = std::fs::read_to_string(root().join("fazhi.example.toml")).unwrap();
    let mut settings = Settings::new(
        rules,
        calendar,
        Principals::parse("fazhi.example.toml", &config).unwrap(),
        db.clone(),
    );
    settings.listen = "127.0.0.1:0".into();
    settings.workers = Some(2);
    let app = Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .finish();
    let (status, api, _) = get(&client, &base, "/v1/reports/annual?year=2021", "importer").await;
    assert_eq!(status, 200, "{api}");
    assert_eq!(api, cli, "the service and the CLI give the same report");
    for ((figure, g), ids) in &year.expect {
        let mut path = format!("/v1/cases?report={figure}&year=2021&limit=1000");
        if let Some(g) = g {
            path.push_str(&format!("&group={g}"));
        }
        let (status, list, _) = get(&client, &base, &path, "importer").await;
        assert_eq!(status, 200, "{path}: {list}");
        let got: BTreeSet<String> = list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(&got, ids, "{path}");
    }
    // Paged: the contracts two by two give the same cases, once each.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..40 {
        let (status, page, _) = get(
            &client,
            &base,
            &format!(
                "/v1/cases?report=legality-review.reviews&year=2021&group=contract&limit=2{cursor}"
            ),
            "importer",
        )
        .await;
        assert_eq!(status, 200);
        seen.extend(
            page["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let want: Vec<String> = year.expect[&(
        "legality-review.reviews".to_owned(),
        Some("contract".to_owned()),
    )]
        .iter()
        .cloned()
        .collect();
    assert_eq!(seen, want);

    // A party reads only its own disputes: its figures and lists are those.
    let own: BTreeSet<String> = (0..seed["mediation"] as usize)
        .filter(|i| i % 50 == 7)
        .map(|i| format!("md-{i:03}"))
        .collect();
    let (status, party, _) = get(&client, &base, "/v1/reports/annual?year=2021", "party").await;
    assert_eq!(status, 200);
    let pf = figures_of(&party);
    assert_eq!(pf["mediation.disputes"].0, own.len() as u64);
    assert_eq!(
        pf["legality-review.reviews"].0, 0,
        "a party reads no review"
    );
    let (_, list, _) = get(
        &client,
        &base,
        "/v1/cases?report=mediation.disputes&year=2021",
        "party",
    )
    .await;
    let got: BTreeSet<String> = list["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, own);

    // Markdown and CSV from the service; a bad year, format or figure is a 400 saying so.
    let (status, _, md_api) = get(
        &client,
        &base,
        "/v1/reports/annual?year=2021&format=md",
        "importer",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(md_api, md);
    for (path, code, says) in [
        ("/v1/reports/annual", 400, "year"),
        ("/v1/reports/annual?year=1900", 400, "year"),
        ("/v1/reports/annual?year=2021&format=pdf", 400, "pdf"),
        (
            "/v1/cases?report=legality-review.review&year=2021",
            422,
            "legality-review.reviews",
        ),
        ("/v1/cases?report=legality-review.reviews", 422, "year"),
        ("/v1/cases?year=2021", 422, "report"),
        (
            "/v1/cases?report=mediation.disputes&year=2021&procedure=mediation",
            422,
            "procedure",
        ),
    ] {
        let (status, problem, _) = get(&client, &base, path, "importer").await;
        assert_eq!(status, code, "{path}: {problem}");
        assert!(problem.to_string().contains(says), "{path}: {problem}");
    }
}
