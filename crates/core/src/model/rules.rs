use std::collections::BTreeMap;
use std::sync::Arc;

use super::Procedure;

/// Every loaded procedure, by id and version. A case runs on the version it was opened
/// with; new cases take the newest.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    procedures: BTreeMap<String, BTreeMap<u32, Arc<Procedure>>>,
}

impl RuleSet {
    /// An empty rule set.
    pub fn new() -> Self {
        RuleSet::default()
    }

    /// Adds a procedure; returns `false` (and keeps the one it has) if that id and version
    /// are already present.
    pub fn insert(&mut self, procedure: Procedure) -> bool {
        let versions = self
            .procedures
            .entry(procedure.meta.id.clone())
            .or_default();
        if versions.contains_key(&procedure.version) {
            return false;
        }
        versions.insert(procedure.version, Arc::new(procedure));
        true
    }

    /// One version of a procedure, or its newest when `version` is `None`.
    pub fn get(&self, id: &str, version: Option<u32>) -> Option<&Arc<Procedure>> {
        let versions = self.procedures.get(id)?;
        match version {
            Some(v) => versions.get(&v),
            None => versions.values().next_back(),
        }
    }

    /// The newest version of every procedure, by id.
    pub fn latest(&self) -> impl Iterator<Item = &Arc<Procedure>> {
        self.procedures
            .values()
            .filter_map(|v| v.values().next_back())
    }

    /// Every version of every procedure.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Procedure>> {
        self.procedures.values().flat_map(|v| v.values())
    }

    /// How many procedure versions are loaded.
    pub fn len(&self) -> usize {
        self.procedures.values().map(BTreeMap::len).sum()
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
