//! A migration event applied to a case: the case as it is on the new version of its
//! procedure. Everything is read from the event and the two versions, so that a replay gives
//! the same case (the migration file is not needed to replay).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::case::{ApplyError, Case, Ctx};
use super::event::{Event, EventBody};
use crate::expr::Value;
use crate::model::{Place, Procedure};

/// Every place of a procedure: its main states, then each track's states.
pub(crate) fn places(p: &Procedure) -> impl Iterator<Item = Place> + '_ {
    (0..p.states.len()).map(Place::State).chain(
        p.tracks.iter().enumerate().flat_map(|(track, t)| {
            (0..t.states.len()).map(move |state| Place::Track { track, state })
        }),
    )
}

/// A value of one type read as a value of another, through its JSON form (an enum value the
/// new type still has, a number, a text); `None` when it does not fit.
pub(crate) fn convert(
    v: &Value,
    from: &crate::expr::Type,
    to: &crate::expr::Type,
) -> Option<Value> {
    Value::from_json(to, &v.to_json(from)).ok()
}

fn invalid(seq: u64, problem: String) -> ApplyError {
    ApplyError::Invalid { seq, problem }
}

/// The case after the migration event `event`, on `new`.
pub(crate) fn migrated(
    old: &Case,
    new: &Arc<Procedure>,
    event: &Event,
) -> Result<Case, ApplyError> {
    let EventBody::Migrated {
        procedure,
        from_version,
        to_version,
        from_state,
        to_state,
        tracks,
        places: mapped,
        actions,
        renamed_facts,
        facts,
        ..
    } = &event.body
    else {
        return Err(ApplyError::BadHistory {
            seq: event.seq,
            problem: "not a migration event".into(),
        });
    };
    let seq = event.seq;
    if event.case != old.id {
        return Err(ApplyError::WrongCase {
            seq,
            expected: old.id.to_string(),
            found: event.case.to_string(),
        });
    }
    if seq != old.seq {
        return Err(ApplyError::OutOfSequence {
            expected: old.seq,
            found: seq,
        });
    }
    let op = old.procedure.as_ref();
    if *procedure != op.meta.id || *from_version != op.version || *to_version != new.version {
        return Err(invalid(
            seq,
            format!(
                "the migration moves `{procedure}` from version {from_version} to {to_version}, but the case runs on `{}` version {} (and the new version loaded is {})",
                op.meta.id, op.version, new.version
            ),
        ));
    }
    if op.meta.id != new.meta.id {
        return Err(invalid(
            seq,
            "the new version is of another procedure".into(),
        ));
    }
    if old.state().as_bytes() != from_state.as_bytes() {
        return Err(invalid(
            seq,
            format!(
                "the migration starts from state `{from_state}`, but the case is in `{}`",
                old.state()
            ),
        ));
    }
    let np = new.as_ref();
    let Some((state, _)) = np.find_state(to_state) else {
        return Err(invalid(
            seq,
            format!("version {} has no state `{to_state}`", np.version),
        ));
    };
    // Facts: given by the migration, else the old value (under its old id when renamed),
    // else the default.
    let mut new_facts = Vec::with_capacity(np.facts.len());
    for f in &np.facts {
        let v = if let Some(json) = facts.get(&f.meta.id) {
            if json.is_null() {
                None
            } else {
                Some(
                    Value::from_json(&f.ty, json)
                        .map_err(|e| invalid(seq, format!("fact `{}`: {e}", f.meta.id)))?,
                )
            }
        } else {
            let from = renamed_facts.get(&f.meta.id).unwrap_or(&f.meta.id);
            op.find_fact(from)
                .and_then(|(i, of)| {
                    let v = old.facts.get(i)?.as_ref()?;
                    convert(v, &of.ty, &f.ty)
                })
                .or_else(|| f.default.clone())
        };
        new_facts.push(v);
    }
    if let Some(unknown) = facts.keys().find(|k| np.find_fact(k).is_none()) {
        return Err(invalid(
            seq,
            format!("version {} has no fact `{unknown}`", np.version),
        ));
    }
    // Places by id in the new version.
    let new_places: HashMap<String, Place> = places(np).map(|pl| (np.place_id(pl), pl)).collect();
    let mut old_to_new: HashMap<usize, Place> = HashMap::new();
    for pl in places(op) {
        if let Some(target) = mapped.get(&op.place_id(pl)) {
            let Some(t) = new_places.get(target) else {
                return Err(invalid(
                    seq,
                    format!("version {} has no place `{target}`", np.version),
                ));
            };
            old_to_new.insert(op.place_number(pl), *t);
        }
    }
    let mut times: Vec<Option<DateTime<Utc>>> = vec![None; np.place_count() + np.actions.len()];
    let latest = |slot: &mut Option<DateTime<Utc>>, t: DateTime<Utc>| {
        *slot = Some(slot.map_or(t, |s| s.max(t)));
    };
    for pl in places(op) {
        let n = op.place_number(pl);
        if let (Some(Some(t)), Some(target)) = (old.times.get(n), old_to_new.get(&n))
            && let Some(slot) = times.get_mut(np.place_number(*target))
        {
            latest(slot, *t);
        }
    }
    let action_to = |oa: usize| -> Option<usize> {
        let id = op.actions.get(oa)?.meta.id.as_str();
        let id = actions.get(id).map_or(id, String::as_str);
        np.find_action(id).map(|(i, _)| i)
    };
    for oa in 0..op.actions.len() {
        if let (Some(t), Some(na)) = (old.taken_at(oa), action_to(oa))
            && let Some(slot) = times.get_mut(np.place_count() + na)
        {
            latest(slot, t);
        }
    }
    // The current tracks, as the event names them.
    let mut new_tracks = vec![None; np.tracks.len()];
    for (t, s) in tracks {
        let Some((ti, track)) = np.find_track(t) else {
            return Err(invalid(
                seq,
                format!("version {} has no track `{t}`", np.version),
            ));
        };
        let Some(si) = track.states.iter().position(|m| m.id == *s) else {
            return Err(invalid(
                seq,
                format!("track `{t}` of version {} has no state `{s}`", np.version),
            ));
        };
        if track.parent != state {
            return Err(invalid(
                seq,
                format!("track `{t}` does not run in state `{to_state}`"),
            ));
        }
        if let Some(slot) = new_tracks.get_mut(ti) {
            *slot = Some(si);
        }
    }
    let mut on_file: smallvec::SmallVec<[u64; 1]> =
        smallvec::smallvec![0; np.documents.len().div_ceil(64)];
    for (od, d) in op.documents.iter().enumerate() {
        if old.is_on_file(od)
            && let Some(nd) = np.document_index(&d.meta.id)
            && let Some(w) = on_file.get_mut(nd / 64)
        {
            *w |= 1 << (nd % 64);
        }
    }
    // The stretches spent where the new version's clocks stop: those spent in the old
    // places mapped there.
    let mut stopped = vec![Vec::new(); np.stop_places.len()];
    for (oi, opl) in op.stop_places.iter().enumerate() {
        let Some(target) = old_to_new.get(&op.place_number(*opl)) else {
            continue;
        };
        if let Some(ni) = np.stop_places.iter().position(|p| p == target)
            && let (Some(out), Some(intervals)) = (stopped.get_mut(ni), old.stopped.get(oi))
        {
            out.extend(intervals.iter().copied());
        }
    }
    for s in &mut stopped {
        s.sort_unstable();
    }
    // Payload values the new version's time rules read, from the same action's field.
    let mut kept = vec![None; np.kept_payload.len()];
    for (k, (na, nf)) in np.kept_payload.iter().enumerate() {
        let Some(a) = np.actions.get(*na) else {
            continue;
        };
        let Some(field) = a.payload.get(*nf) else {
            continue;
        };
        let found = op
            .kept_payload
            .iter()
            .enumerate()
            .find_map(|(ok, (oa, of))| {
                (action_to(*oa) == Some(*na)).then_some(())?;
                let ofield = op.actions.get(*oa)?.payload.get(*of)?;
                (ofield.meta.id == field.meta.id).then_some(())?;
                convert(old.kept.get(ok)?.as_ref()?, &ofield.ty, &field.ty)
            });
        if let Some(slot) = kept.get_mut(k) {
            *slot = found;
        }
    }
    let counts = if np.actions.iter().any(|a| a.max_times.is_some()) {
        let mut c = vec![(0, 0); np.actions.len()];
        for oa in 0..op.actions.len() {
            if let (Some(n), Some(na)) = (old.counts.get(oa), action_to(oa))
                && let Some(slot) = c.get_mut(na)
            {
                *slot = *n;
            }
        }
        c
    } else {
        Vec::new()
    };
    let mut case = Case {
        procedure: new.clone(),
        id: old.id.clone(),
        title: old.title.clone(),
        seq: old.seq + 1,
        state,
        tracks: new_tracks,
        facts: new_facts,
        times,
        on_file,
        opened_at: old.opened_at,
        last_at: event.at,
        head: old.head,
        stopped,
        kept,
        counts,
    };
    // A place the case is in now (its state, its tracks' states) counts as entered no later
    // than now: a track started by the migration is entered at it.
    let mut here = vec![state];
    for (ti, s) in case.tracks.iter().enumerate() {
        if let Some(s) = s {
            here.push(np.place_number(Place::Track {
                track: ti,
                state: *s,
            }));
        }
    }
    for n in here {
        if case.entered_at(n).is_none()
            && let Some(slot) = case.times.get_mut(n)
        {
            *slot = Some(event.at);
        }
    }
    case.note_stops(np, event.at);
    Ok(case)
}

impl Case {
    /// The case as the migration event `event` makes it, on `new` (the version the event
    /// names), without recording the event: what a migration's plan looks at.
    pub fn migrated(&self, new: &Arc<Procedure>, event: &Event) -> Result<Case, ApplyError> {
        migrated(self, new, event)
    }

    /// The tracks of the current state that entering it now would start (those whose
    /// `active_if` holds) and that do not run: `(track id, its initial state's id)`.
    pub fn tracks_starting_here(&self) -> Vec<(String, String)> {
        let p = self.procedure.as_ref();
        let Some(s) = p.states.get(self.state) else {
            return Vec::new();
        };
        s.tracks
            .iter()
            .filter(|ti| self.tracks.get(**ti).is_some_and(Option::is_none))
            .filter_map(|&ti| {
                let t = p.tracks.get(ti)?;
                let active = t.active_if.as_ref().is_none_or(|c| {
                    c.holds(&Ctx {
                        case: self,
                        payload: &[],
                        documents: &[],
                        clock: None,
                    })
                });
                let initial = t.states.get(t.initial)?;
                active.then(|| (t.meta.id.clone(), initial.id.clone()))
            })
            .collect()
    }
}
