//! One call per batch: the group commit's appends go to PostgreSQL as arrays, one call of
//! `fazhi_write_batch` per round (see [`rounds`]), and the function does each step for all
//! of them at once, one statement per step and table, instead of one `fazhi_append` call
//! (a statement per step and table) per append.
//!
//! Two versions of the function live in the schema: `fazhi_append_batch` (migration 2) and
//! `fazhi_write_batch` (migration 3), which this release calls. The older one stays for a
//! node of the release before during a rolling upgrade; both keep the same rows.
//!
//! Every check of `fazhi_append` is kept, in the same order, for each append: its
//! idempotency key first (kept already, or by a transaction that commits while the insert
//! waits for it: a replay), then the claim of its case (`UPDATE … WHERE seq = expected`, or
//! the insert of a new case), then its events, participants and deadlines. An append whose
//! claim fails is a conflict (its key is given back) and the others go on: each append is
//! answered for itself, as with one call each.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::Append;

/// The migration that adds `fazhi_append_batch` (`fazhi_append` stays, for a node of the
/// version before during a rolling upgrade, and for a batch that must be told apart). No
/// longer called by this release (see [`MIGRATION_WRITE`]); its text is as shipped.
///
/// The function runs with `enable_seqscan = off`: its statements join the batch's arrays
/// (`unnest`, estimated at 100 rows whatever their length) with `cases`, `deadlines` and the
/// rest, and a plan chosen for those estimates scanned the whole `cases` table once a
/// database held many cases (idle machine, 100,000 cases: 552–780 appends/s, 2.2–3.2 ms of
/// database CPU per append; with index scans forced, 2,955/s and 336 µs, as at 1,000 cases).
pub(crate) const MIGRATION: &str = r#"
CREATE FUNCTION fazhi_append_batch(
    a_case text[], a_expected bigint[], a_malformed boolean[],
    a_procedure text[], a_procedure_version bigint[], a_title text[], a_state text[],
    a_tracks text[], a_new_seq bigint[], a_head text[], a_opened_at bigint[],
    a_last_at bigint[], a_next_due bigint[], a_closed boolean[],
    a_principal text[], a_key text[], a_request_hash text[], a_idem_case text[],
    a_status bigint[], a_headers text[], a_body bytea[], a_deadlines text[],
    e_append int[], e_seq bigint[], e_action text[], e_actor text[], e_roles text[],
    e_at bigint[], e_imported boolean[], e_version bigint[], e_prev_hash text[],
    e_hash text[], e_bytes bytea[],
    n_append int[], n_actor text[])
RETURNS TABLE (o_i int, o_kind text, o_seq bigint, o_request_hash text, o_case text,
    o_status bigint, o_headers text, o_body bytea)
LANGUAGE plpgsql SET enable_seqscan = off AS $fn$
DECLARE
    total int := coalesce(array_length(a_case, 1), 0);
    keyed int[];
    held int[];
    replays int[] := '{}';
    todo int[];
    claimed int[];
    got bigint;
BEGIN
    -- A malformed append writes nothing: a replay if its key was used, a conflict if it is
    -- stale, else the caller's mistake.
    RETURN QUERY
        SELECT m.i, CASE WHEN k.key IS NOT NULL THEN 'replay'
                WHEN coalesce(c.seq, 0) <> a_expected[m.i] THEN 'conflict'
                ELSE 'malformed' END,
            coalesce(c.seq, 0), k.request_hash, k.case_id, k.status, k.headers, k.body
        FROM generate_series(1, total) AS m(i)
        LEFT JOIN idempotency k ON k.principal = a_principal[m.i] AND k.key = a_key[m.i]
        LEFT JOIN cases c ON c.id = a_case[m.i]
        WHERE a_malformed[m.i];
    -- The keys first: kept already (or by a transaction that commits while the insert waits
    -- for it) is a replay; otherwise this transaction holds it.
    SELECT array_agg(g.i) INTO keyed FROM generate_series(1, total) AS g(i)
        WHERE NOT a_malformed[g.i] AND a_key[g.i] IS NOT NULL;
    IF keyed IS NOT NULL THEN
        WITH ins AS (
            INSERT INTO idempotency (principal, key, request_hash, case_id, status, headers, body)
                SELECT a_principal[t.i], a_key[t.i], a_request_hash[t.i], a_idem_case[t.i],
                    a_status[t.i], a_headers[t.i], a_body[t.i]
                FROM unnest(keyed) AS t(i)
                ON CONFLICT (principal, key) DO NOTHING
                RETURNING idempotency.principal, idempotency.key)
        SELECT array_agg(t.i) INTO held FROM unnest(keyed) AS t(i)
            JOIN ins ON ins.principal = a_principal[t.i] AND ins.key = a_key[t.i];
        SELECT coalesce(array_agg(t.i), '{}') INTO replays FROM unnest(keyed) AS t(i)
            WHERE NOT (t.i = ANY(coalesce(held, '{}')));
        IF cardinality(replays) > 0 THEN
            RETURN QUERY
                SELECT r.i, 'replay'::text, NULL::bigint, k.request_hash, k.case_id, k.status,
                    k.headers, k.body
                FROM unnest(replays) AS r(i)
                JOIN idempotency k ON k.principal = a_principal[r.i] AND k.key = a_key[r.i];
            GET DIAGNOSTICS got = ROW_COUNT;
            IF got < cardinality(replays) THEN
                -- Taken and given up again in between: the batch runs again.
                RAISE EXCEPTION 'idempotency key moved' USING ERRCODE = 'serialization_failure';
            END IF;
        END IF;
    END IF;
    -- Claim each case: its summary row at the expected seq (none for a new case).
    SELECT array_agg(g.i) INTO todo FROM generate_series(1, total) AS g(i)
        WHERE NOT a_malformed[g.i] AND NOT (g.i = ANY(replays));
    IF todo IS NULL THEN
        RETURN;
    END IF;
    WITH upd AS (
        UPDATE cases c SET state = a_state[t.i], tracks = a_tracks[t.i], seq = a_new_seq[t.i],
                head = a_head[t.i], last_at = a_last_at[t.i], next_due = a_next_due[t.i],
                closed = a_closed[t.i]
            FROM unnest(todo) AS t(i)
            WHERE a_expected[t.i] <> 0 AND c.id = a_case[t.i] AND c.seq = a_expected[t.i]
            RETURNING t.i),
    ins AS (
        INSERT INTO cases (id, procedure, procedure_version, title, state, tracks, seq, head,
                opened_at, last_at, next_due, closed)
            SELECT a_case[t.i], a_procedure[t.i], a_procedure_version[t.i], a_title[t.i],
                a_state[t.i], a_tracks[t.i], a_new_seq[t.i], a_head[t.i], a_opened_at[t.i],
                a_last_at[t.i], a_next_due[t.i], a_closed[t.i]
            FROM unnest(todo) AS t(i) WHERE a_expected[t.i] = 0
            ON CONFLICT (id) DO NOTHING
            RETURNING cases.id)
    SELECT array_agg(x.i) INTO claimed FROM (
        SELECT upd.i FROM upd
        UNION ALL
        SELECT t.i FROM unnest(todo) AS t(i) JOIN ins ON ins.id = a_case[t.i]
            WHERE a_expected[t.i] = 0) AS x;
    claimed := coalesce(claimed, '{}');
    -- Stale: nothing written, and a key taken for it is given back.
    DELETE FROM idempotency k USING unnest(todo) AS t(i)
        WHERE NOT (t.i = ANY(claimed)) AND a_key[t.i] IS NOT NULL
            AND k.principal = a_principal[t.i] AND k.key = a_key[t.i];
    RETURN QUERY
        SELECT t.i, 'conflict'::text, coalesce(c.seq, 0), NULL::text, NULL::text,
            NULL::bigint, NULL::text, NULL::bytea
        FROM unnest(todo) AS t(i) LEFT JOIN cases c ON c.id = a_case[t.i]
        WHERE NOT (t.i = ANY(claimed));
    IF cardinality(claimed) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO events (case_id, seq, action, actor, roles, at, imported, procedure_version,
            prev_hash, hash, bytes)
        SELECT a_case[e.i], e.seq, e.action, e.actor, e.roles, e.at, e.imported, e.version,
            e.prev_hash, e.hash, e.bytes
        FROM unnest(e_append, e_seq, e_action, e_actor, e_roles, e_at, e_imported, e_version,
            e_prev_hash, e_hash, e_bytes)
            AS e(i, seq, action, actor, roles, at, imported, version, prev_hash, hash, bytes)
        WHERE e.i = ANY(claimed);
    INSERT INTO participants (case_id, actor)
        SELECT DISTINCT a_case[x.i], x.actor FROM (
            SELECT e.i, e.actor FROM unnest(e_append, e_actor) AS e(i, actor)
            UNION ALL
            SELECT p.i, p.actor FROM unnest(n_append, n_actor) AS p(i, actor)) AS x
        WHERE x.i = ANY(claimed)
        ON CONFLICT DO NOTHING;
    -- Each case's deadlines for the board, replaced.
    DELETE FROM deadlines d USING unnest(claimed) AS t(i) WHERE d.case_id = a_case[t.i];
    INSERT INTO deadlines (case_id, rule, procedure, late, due, last_day, working_days,
            optional, provisional, title, basis, roles)
        SELECT a_case[t.i], d.rule, a_procedure[t.i], d.late, d.due, d.last_day,
            d.working_days, d.optional, d.provisional, d.title, d.basis, d.roles
        FROM unnest(claimed) AS t(i),
            jsonb_to_recordset(a_deadlines[t.i]::jsonb) AS d(rule text, late boolean,
                due bigint, last_day date, working_days boolean, optional boolean,
                provisional boolean, title text, basis text, roles jsonb)
        ON CONFLICT (case_id, rule) DO NOTHING;
    RETURN QUERY
        SELECT t.i, 'appended'::text, a_new_seq[t.i], NULL::text, NULL::text, NULL::bigint,
            NULL::text, NULL::bytea
        FROM unnest(claimed) AS t(i);
END
$fn$;
"#;

/// The migration that adds `fazhi_write_batch`, what this release calls: the steps and
/// checks of `fazhi_append_batch`, with four changes, each measured (issue 16, see
/// `benches/http_load.rs`):
///
/// - the board's deadlines come as arrays (no JSON to parse) and a case's rows are
///   rewritten only when they changed (as the SQLite store does): most appends leave a
///   case's deadlines as they were, and deleting and inserting them again was the costliest
///   step of the function. Whether they changed is told by a digest of the rows
///   (`cases.board`, SHA-256 of their values, see `board_digest`), valid only while
///   `cases.board_head` is the case's head: an append by a function that does not keep the
///   digest (`fazhi_append`, `fazhi_append_batch`: a node of the release before, or the
///   one-call-per-append fallback) moves the head, and the next append rewrites the rows;
/// - a migration event (one after the opening that takes no action) moves its case's
///   summary row onto the version the append names, in the claim's own `UPDATE`, instead
///   of a statement after the call (an action's append moves nothing);
/// - a step that has nothing to do for a batch (malformed appends, stale ones, new cases,
///   no participant the node has not seen already, see `postgres_known`) is not run;
/// - the plans are generic (`plan_cache_mode = force_generic_plan`): they do not depend on
///   the arrays' values, and planning each statement again for each call cost more than
///   running it.
pub(crate) const MIGRATION_WRITE: &str = r#"
ALTER TABLE cases ADD COLUMN board text, ADD COLUMN board_head text;
CREATE FUNCTION fazhi_write_batch(
    a_case text[], a_expected bigint[], a_malformed boolean[],
    a_procedure text[], a_procedure_version bigint[], a_title text[], a_state text[],
    a_tracks text[], a_new_seq bigint[], a_head text[], a_opened_at bigint[],
    a_last_at bigint[], a_next_due bigint[], a_closed boolean[],
    a_principal text[], a_key text[], a_request_hash text[], a_idem_case text[],
    a_status bigint[], a_headers text[], a_body bytea[], a_migrated boolean[],
    a_board text[],
    e_append int[], e_seq bigint[], e_action text[], e_actor text[], e_roles text[],
    e_at bigint[], e_imported boolean[], e_version bigint[], e_prev_hash text[],
    e_hash text[], e_bytes bytea[],
    n_append int[], n_actor text[],
    d_append int[], d_rule text[], d_late boolean[], d_due bigint[], d_last_day text[],
    d_working_days boolean[], d_optional boolean[], d_provisional boolean[],
    d_title text[], d_basis text[], d_roles text[])
RETURNS TABLE (o_i int, o_kind text, o_seq bigint, o_request_hash text, o_case text,
    o_status bigint, o_headers text, o_body bytea)
LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    total int := coalesce(array_length(a_case, 1), 0);
    keyed int[];
    held int[];
    replays int[] := '{}';
    todo int[];
    claimed int[];
    opened int[];
    redo int[];
    got bigint;
BEGIN
    -- A malformed append writes nothing: a replay if its key was used, a conflict if it is
    -- stale, else the caller's mistake.
    IF true = ANY(a_malformed) THEN
        RETURN QUERY
            SELECT m.i, CASE WHEN k.key IS NOT NULL THEN 'replay'
                    WHEN coalesce(c.seq, 0) <> a_expected[m.i] THEN 'conflict'
                    ELSE 'malformed' END,
                coalesce(c.seq, 0), k.request_hash, k.case_id, k.status, k.headers, k.body
            FROM generate_series(1, total) AS m(i)
            LEFT JOIN idempotency k ON k.principal = a_principal[m.i] AND k.key = a_key[m.i]
            LEFT JOIN cases c ON c.id = a_case[m.i]
            WHERE a_malformed[m.i];
    END IF;
    -- The keys first: kept already (or by a transaction that commits while the insert waits
    -- for it) is a replay; otherwise this transaction holds it.
    SELECT array_agg(g.i) INTO keyed FROM generate_series(1, total) AS g(i)
        WHERE NOT a_malformed[g.i] AND a_key[g.i] IS NOT NULL;
    IF keyed IS NOT NULL THEN
        WITH ins AS (
            INSERT INTO idempotency (principal, key, request_hash, case_id, status, headers, body)
                SELECT a_principal[t.i], a_key[t.i], a_request_hash[t.i], a_idem_case[t.i],
                    a_status[t.i], a_headers[t.i], a_body[t.i]
                FROM unnest(keyed) AS t(i)
                ON CONFLICT (principal, key) DO NOTHING
                RETURNING idempotency.principal, idempotency.key)
        SELECT array_agg(t.i) INTO held FROM unnest(keyed) AS t(i)
            JOIN ins ON ins.principal = a_principal[t.i] AND ins.key = a_key[t.i];
        SELECT coalesce(array_agg(t.i), '{}') INTO replays FROM unnest(keyed) AS t(i)
            WHERE NOT (t.i = ANY(coalesce(held, '{}')));
        IF cardinality(replays) > 0 THEN
            RETURN QUERY
                SELECT r.i, 'replay'::text, NULL::bigint, k.request_hash, k.case_id, k.status,
                    k.headers, k.body
                FROM unnest(replays) AS r(i)
                JOIN idempotency k ON k.principal = a_principal[r.i] AND k.key = a_key[r.i];
            GET DIAGNOSTICS got = ROW_COUNT;
            IF got < cardinality(replays) THEN
                -- Taken and given up again in between: the batch runs again.
                RAISE EXCEPTION 'idempotency key moved' USING ERRCODE = 'serialization_failure';
            END IF;
        END IF;
    END IF;
    -- Claim each case: its summary row at the expected seq (none for a new case).
    SELECT array_agg(g.i) INTO todo FROM generate_series(1, total) AS g(i)
        WHERE NOT a_malformed[g.i] AND NOT (g.i = ANY(replays));
    IF todo IS NULL THEN
        RETURN;
    END IF;
    -- The claim also tells whose board rows are kept as they are: the digest of the rows
    -- sent is the one stored, and was stored with the head the case is at.
    WITH upd AS (
        UPDATE cases c SET procedure_version = CASE WHEN a_migrated[x.i]
                    THEN a_procedure_version[x.i] ELSE c.procedure_version END,
                state = a_state[x.i], tracks = a_tracks[x.i], seq = a_new_seq[x.i],
                head = a_head[x.i], last_at = a_last_at[x.i], next_due = a_next_due[x.i],
                closed = a_closed[x.i], board = a_board[x.i], board_head = a_head[x.i]
            FROM (SELECT t.i,
                        coalesce(o.board = a_board[t.i] AND o.board_head = o.head, false) AS kept
                    FROM unnest(todo) AS t(i) JOIN cases o ON o.id = a_case[t.i]
                    WHERE a_expected[t.i] <> 0) AS x
            WHERE c.id = a_case[x.i] AND c.seq = a_expected[x.i]
            RETURNING x.i, x.kept)
    SELECT coalesce(array_agg(upd.i), '{}'),
            coalesce(array_agg(upd.i) FILTER (WHERE NOT upd.kept), '{}')
        INTO claimed, redo FROM upd;
    SELECT array_agg(t.i) INTO opened FROM unnest(todo) AS t(i) WHERE a_expected[t.i] = 0;
    IF opened IS NOT NULL THEN
        WITH ins AS (
            INSERT INTO cases (id, procedure, procedure_version, title, state, tracks, seq,
                    head, opened_at, last_at, next_due, closed, board, board_head)
                SELECT a_case[t.i], a_procedure[t.i], a_procedure_version[t.i], a_title[t.i],
                    a_state[t.i], a_tracks[t.i], a_new_seq[t.i], a_head[t.i], a_opened_at[t.i],
                    a_last_at[t.i], a_next_due[t.i], a_closed[t.i], a_board[t.i], a_head[t.i]
                FROM unnest(opened) AS t(i)
                ON CONFLICT (id) DO NOTHING
                RETURNING cases.id)
        SELECT coalesce(array_agg(t.i), '{}') INTO opened
            FROM unnest(opened) AS t(i) JOIN ins ON ins.id = a_case[t.i];
        claimed := claimed || opened;
        redo := redo || opened;
    END IF;
    -- Stale: nothing written, and a key taken for it is given back.
    IF cardinality(claimed) < cardinality(todo) THEN
        DELETE FROM idempotency k USING unnest(todo) AS t(i)
            WHERE NOT (t.i = ANY(claimed)) AND a_key[t.i] IS NOT NULL
                AND k.principal = a_principal[t.i] AND k.key = a_key[t.i];
        RETURN QUERY
            SELECT t.i, 'conflict'::text, coalesce(c.seq, 0), NULL::text, NULL::text,
                NULL::bigint, NULL::text, NULL::bytea
            FROM unnest(todo) AS t(i) LEFT JOIN cases c ON c.id = a_case[t.i]
            WHERE NOT (t.i = ANY(claimed));
    END IF;
    IF cardinality(claimed) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO events (case_id, seq, action, actor, roles, at, imported, procedure_version,
            prev_hash, hash, bytes)
        SELECT a_case[e.i], e.seq, e.action, e.actor, e.roles, e.at, e.imported, e.version,
            e.prev_hash, e.hash, e.bytes
        FROM unnest(e_append, e_seq, e_action, e_actor, e_roles, e_at, e_imported, e_version,
            e_prev_hash, e_hash, e_bytes)
            AS e(i, seq, action, actor, roles, at, imported, version, prev_hash, hash, bytes)
        WHERE e.i = ANY(claimed);
    -- Who takes part: the node sends only those it has not seen taking part already.
    IF cardinality(n_append) > 0 THEN
        INSERT INTO participants (case_id, actor)
            SELECT DISTINCT a_case[p.i], p.actor FROM unnest(n_append, n_actor) AS p(i, actor)
            WHERE p.i = ANY(claimed)
            ON CONFLICT DO NOTHING;
    END IF;
    -- Each case's deadlines for the board (one row per rule), rewritten where they changed.
    IF cardinality(redo) > 0 THEN
        DELETE FROM deadlines k USING unnest(redo) AS t(i) WHERE k.case_id = a_case[t.i];
        INSERT INTO deadlines (case_id, rule, procedure, late, due, last_day, working_days,
                optional, provisional, title, basis, roles)
            SELECT a_case[d.i], d.rule, a_procedure[d.i], d.late, d.due, d.last_day::date,
                d.working_days, d.optional, d.provisional, d.title, d.basis, d.roles::jsonb
            FROM unnest(d_append, d_rule, d_late, d_due, d_last_day, d_working_days,
                d_optional, d_provisional, d_title, d_basis, d_roles)
                AS d(i, rule, late, due, last_day, working_days, optional, provisional,
                    title, basis, roles)
            WHERE d.i = ANY(redo);
    END IF;
    RETURN QUERY
        SELECT t.i, 'appended'::text, a_new_seq[t.i], NULL::text, NULL::text, NULL::bigint,
            NULL::text, NULL::bytea
        FROM unnest(claimed) AS t(i);
END
$fn$;
"#;

/// The call of the batch function, its 47 parameters.
pub(crate) const SQL: &str = "SELECT * FROM fazhi_write_batch($1, $2, $3, $4, $5, $6, $7, \
     $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, \
     $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, \
     $43, $44, $45, $46, $47)";

/// The appends of a batch split into rounds, each a list of indexes in the batch's order:
/// no two appends of a round touch the same case or the same idempotency key, and an append
/// comes in a later round than every earlier one that does. Rounds run one after the other
/// in the transaction, so the appends keep the order they were sent in where it matters.
pub(crate) fn rounds(batch: &[&Append]) -> Vec<Vec<usize>> {
    let mut last_of_case = std::collections::HashMap::<&str, usize>::new();
    let mut last_of_key = std::collections::HashMap::<(&str, &str), usize>::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, a) in batch.iter().enumerate() {
        let mut round = last_of_case.get(a.case.as_str()).map_or(0, |r| r + 1);
        let key = a
            .idempotency
            .as_ref()
            .map(|k| (k.principal.as_str(), k.key.as_str()));
        if let Some(key) = key {
            round = round.max(last_of_key.get(&key).map_or(0, |r| r + 1));
            last_of_key.insert(key, round);
        }
        last_of_case.insert(a.case.as_str(), round);
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        if let Some(r) = rounds.get_mut(round) {
            r.push(i);
        }
    }
    rounds
}

/// The arrays of one round's call, owned.
#[derive(Default)]
pub(crate) struct BatchCall {
    case: Vec<String>,
    expected: Vec<i64>,
    malformed: Vec<bool>,
    procedure: Vec<String>,
    procedure_version: Vec<i64>,
    title: Vec<String>,
    state: Vec<String>,
    tracks: Vec<String>,
    new_seq: Vec<i64>,
    head: Vec<String>,
    opened_at: Vec<i64>,
    last_at: Vec<i64>,
    next_due: Vec<Option<i64>>,
    closed: Vec<bool>,
    principal: Vec<Option<String>>,
    key: Vec<Option<String>>,
    request_hash: Vec<Option<String>>,
    idem_case: Vec<Option<String>>,
    status: Vec<Option<i64>>,
    headers: Vec<Option<String>>,
    body: Vec<Option<Vec<u8>>>,
    migrated: Vec<bool>,
    board: Vec<String>,
    e_append: Vec<i32>,
    e_seq: Vec<i64>,
    e_action: Vec<Option<String>>,
    e_actor: Vec<String>,
    e_roles: Vec<String>,
    e_at: Vec<i64>,
    e_imported: Vec<bool>,
    e_version: Vec<i64>,
    e_prev_hash: Vec<String>,
    e_hash: Vec<String>,
    e_bytes: Vec<Vec<u8>>,
    n_append: Vec<i32>,
    n_actor: Vec<String>,
    d_append: Vec<i32>,
    d_rule: Vec<String>,
    d_late: Vec<bool>,
    d_due: Vec<i64>,
    d_last_day: Vec<String>,
    d_working_days: Vec<bool>,
    d_optional: Vec<bool>,
    d_provisional: Vec<bool>,
    d_title: Vec<String>,
    d_basis: Vec<Option<String>>,
    d_roles: Vec<String>,
}

impl BatchCall {
    /// The call for the appends `calls` (each append's own call's values), numbered from 1
    /// in this order; of who takes part, only those not `known` already.
    pub(crate) fn of(
        calls: &[&crate::postgres::Call],
        known: &crate::postgres_known::Known,
    ) -> BatchCall {
        let mut b = BatchCall::default();
        for (n, c) in (1i32..).zip(calls) {
            b.case.push(c.case.clone());
            b.expected.push(c.expected);
            b.malformed.push(c.malformed);
            b.procedure.push(c.procedure.clone());
            b.procedure_version.push(c.procedure_version);
            b.title.push(c.title.clone());
            b.state.push(c.state.clone());
            b.tracks.push(c.tracks.clone());
            b.new_seq.push(c.new_seq);
            b.head.push(c.head.clone());
            b.opened_at.push(c.opened_at);
            b.last_at.push(c.last_at);
            b.next_due.push(c.next_due);
            b.closed.push(c.closed);
            b.principal.push(c.principal.clone());
            b.key.push(c.key.clone());
            b.request_hash.push(c.request_hash.clone());
            b.idem_case.push(c.idem_case.clone());
            b.status.push(c.status);
            b.headers.push(c.headers.clone());
            b.body.push(c.body.clone());
            b.migrated.push(c.migrated);
            b.board.push(c.board_digest.clone());
            for e in 0..c.seq.len() {
                b.e_append.push(n);
                b.e_seq.push(c.seq.get(e).copied().unwrap_or_default());
                b.e_action
                    .push(c.action.get(e).cloned().unwrap_or_default());
                b.e_actor.push(c.actor.get(e).cloned().unwrap_or_default());
                b.e_roles.push(c.roles.get(e).cloned().unwrap_or_default());
                b.e_at.push(c.at.get(e).copied().unwrap_or_default());
                b.e_imported
                    .push(c.imported.get(e).copied().unwrap_or_default());
                b.e_version
                    .push(c.version.get(e).copied().unwrap_or_default());
                b.e_prev_hash
                    .push(c.prev_hash.get(e).cloned().unwrap_or_default());
                b.e_hash.push(c.hash.get(e).cloned().unwrap_or_default());
                b.e_bytes.push(c.bytes.get(e).cloned().unwrap_or_default());
            }
            let mut taking_part: Vec<&String> = c.actor.iter().chain(&c.named).collect();
            taking_part.sort_unstable();
            taking_part.dedup();
            for p in taking_part {
                if !known.contains(crate::postgres_known::Known::key(&c.case, p)) {
                    b.n_append.push(n);
                    b.n_actor.push(p.clone());
                }
            }
            for d in &c.board {
                b.d_append.push(n);
                b.d_rule.push(d.rule.clone());
                b.d_late.push(d.late);
                b.d_due.push(crate::postgres::micros(d.due));
                b.d_last_day.push(d.last_day.to_string());
                b.d_working_days.push(d.working_days);
                b.d_optional.push(d.optional);
                b.d_provisional.push(d.provisional);
                b.d_title.push(d.title.clone());
                b.d_basis.push(d.basis.clone());
                b.d_roles
                    .push(serde_json::to_string(&d.roles).unwrap_or_default());
            }
        }
        b
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 47] {
        [
            &self.case,
            &self.expected,
            &self.malformed,
            &self.procedure,
            &self.procedure_version,
            &self.title,
            &self.state,
            &self.tracks,
            &self.new_seq,
            &self.head,
            &self.opened_at,
            &self.last_at,
            &self.next_due,
            &self.closed,
            &self.principal,
            &self.key,
            &self.request_hash,
            &self.idem_case,
            &self.status,
            &self.headers,
            &self.body,
            &self.migrated,
            &self.board,
            &self.e_append,
            &self.e_seq,
            &self.e_action,
            &self.e_actor,
            &self.e_roles,
            &self.e_at,
            &self.e_imported,
            &self.e_version,
            &self.e_prev_hash,
            &self.e_hash,
            &self.e_bytes,
            &self.n_append,
            &self.n_actor,
            &self.d_append,
            &self.d_rule,
            &self.d_late,
            &self.d_due,
            &self.d_last_day,
            &self.d_working_days,
            &self.d_optional,
            &self.d_provisional,
            &self.d_title,
            &self.d_basis,
            &self.d_roles,
        ]
    }
}

/// The row answering each append of a round (`o_i` counts from 1), in the round's order;
/// `None` when the function answered none for it (which it always does).
pub(crate) fn by_append(rows: Vec<Row>, n: usize) -> Vec<Option<Row>> {
    let mut out: Vec<Option<Row>> = (0..n).map(|_| None).collect();
    for row in rows {
        let slot = row
            .try_get::<_, i32>(0)
            .ok()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| out.get_mut(i));
        if let Some(slot) = slot {
            *slot = Some(row);
        }
    }
    out
}
