//! What a node trusts and enforces, kept in memory and in its store together.
//!
//! [`Trust`] owns the node's [`Admission`] policy (the fleet root, the site CAs, the
//! revocation index) and its [`MeshStore`]. Every revocation or credential that enters,
//! from the operator, gossip, anti-entropy or the store at start, goes through the same
//! checks here: signature chain, not revoked, not a duplicate. What passes is written to the
//! store before it is reported as new, so that nothing enforced is lost to a crash.
//!
//! Revocations are also indexed by entry id ([`VerifiedRevocation::entry_id`]), the unit in
//! which anti-entropy names what a peer lacks.

use std::collections::HashMap;

use tracing::{info, warn};
use ward_crypto::{
    Credential, Revocation, RevocationDigest, RevocationError, Role, VerifiedRevocation,
};

use super::admission::{Admission, AdmittedPeer, Refusal};
use crate::store::{MeshStore, StoreError};

/// Batches at least this large are verified on several threads.
const PARALLEL_BATCH: usize = 256;

/// An entry id: the hash of a revocation's authority and target.
pub type EntryId = [u8; 32];

/// Why a revocation was not taken in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationRefused {
    /// The signature or the authority is wrong: the sender is at fault.
    #[error(transparent)]
    Invalid(#[from] RevocationError),
    /// The store could not keep it; it is not enforced, so that memory never runs ahead
    /// of disk.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a credential was not taken in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialRefused {
    /// The credential does not decode, does not chain, or is revoked.
    #[error(transparent)]
    Invalid(#[from] Refusal),
    /// Only site CA and node credentials travel on the mesh.
    #[error("credentials of role {0} are not shared on the mesh")]
    Role(Role),
    /// The store could not keep it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The node's trust state: its admission policy, revocations by entry id, and the store
/// behind both.
#[derive(Debug)]
pub struct Trust {
    admission: Admission,
    entries: HashMap<EntryId, Revocation>,
    store: MeshStore,
}

impl Trust {
    /// Loads everything `store` holds into `admission`, at `now`: site CAs first, so that
    /// revocations they signed verify, then revocations, then node credentials. Entries that
    /// no longer validate (an expired site CA, say) stay in the store but are not trusted.
    pub fn load(admission: Admission, store: MeshStore, now: u64) -> Result<Trust, StoreError> {
        let mut trust = Trust {
            admission,
            entries: HashMap::new(),
            store,
        };
        let credentials = trust.store.credentials()?;
        for credential in credentials
            .iter()
            .filter(|c| c.claims().role == Role::SiteCa)
        {
            if let Err(refusal) = trust.admission.add_site_ca(credential, now) {
                warn!(subject = %credential.claims().subject, %refusal, "stored site CA not trusted");
            }
        }
        let stored = trust.store.revocations()?;
        for verified in trust.verify_all(stored) {
            match verified {
                Ok(verified) => {
                    trust.index(verified);
                }
                Err(error) => warn!(%error, "stored revocation not enforced"),
            }
        }
        info!(
            revocations = trust.entries.len(),
            site_cas = trust.admission.site_cas().len(),
            "trust state loaded"
        );
        Ok(trust)
    }

    /// The admission policy, with every revocation and site CA taken in so far.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// How many revocations are enforced.
    pub fn revocation_count(&self) -> usize {
        self.entries.len()
    }

    /// The digest of the enforced revocations.
    pub fn digest(&self) -> RevocationDigest {
        self.admission.revocations().digest()
    }

    /// The ids of every enforced revocation.
    pub fn entry_ids(&self) -> impl Iterator<Item = &EntryId> {
        self.entries.keys()
    }

    /// Whether the revocation with this id is enforced.
    pub fn holds(&self, id: &EntryId) -> bool {
        self.entries.contains_key(id)
    }

    /// The revocation with this id, as signed.
    pub fn revocation(&self, id: &EntryId) -> Option<&Revocation> {
        self.entries.get(id)
    }

    /// Verifies `revocation` and, if it is new, stores and enforces it. `Ok(None)` for a
    /// duplicate of one enforced already.
    pub fn take_revocation(
        &mut self,
        revocation: Revocation,
    ) -> Result<Option<EntryId>, RevocationRefused> {
        let verified = self.admission.verify_revocation(revocation)?;
        let id = verified.entry_id();
        if self.entries.contains_key(&id) {
            return Ok(None);
        }
        self.store.put_revocation(verified.revocation())?;
        self.index(verified);
        Ok(Some(id))
    }

    /// Verifies every revocation of `batch`, stores the new ones in one commit and enforces
    /// them. Returns the ids taken in and how many failed verification.
    pub fn take_revocations(
        &mut self,
        batch: Vec<Revocation>,
    ) -> Result<(Vec<EntryId>, usize), StoreError> {
        let mut fresh: HashMap<EntryId, VerifiedRevocation> = HashMap::new();
        let mut invalid = 0;
        for verified in self.verify_all(batch) {
            match verified {
                Ok(verified) => {
                    let id = verified.entry_id();
                    if !self.entries.contains_key(&id) {
                        fresh.entry(id).or_insert(verified);
                    }
                }
                Err(_) => invalid += 1,
            }
        }
        let to_store: Vec<Revocation> = fresh.values().map(|v| v.revocation().clone()).collect();
        self.store.put_revocations(&to_store)?;
        let ids = fresh.keys().copied().collect();
        for verified in fresh.into_values() {
            self.index(verified);
        }
        Ok((ids, invalid))
    }

    /// Validates a site CA or node credential at `now` and, if it is new, stores it; a new
    /// site CA is trusted from then on. `Ok(false)` for one held already.
    pub fn take_credential(
        &mut self,
        credential: &Credential,
        now: u64,
    ) -> Result<bool, CredentialRefused> {
        match credential.claims().role {
            Role::SiteCa => {
                let new = self.admission.add_site_ca(credential, now)?;
                if new {
                    self.store.put_credential(credential)?;
                }
                Ok(new)
            }
            Role::Node => {
                self.admission.validate_node(credential, now)?;
                Ok(self.store.put_credential(credential)?)
            }
            role => Err(CredentialRefused::Role(role)),
        }
    }

    /// Takes in what admitting `peer` taught: the site CA its message brought, and its node
    /// credential. Both passed validation in [`Admission::check`].
    pub fn take_admitted(&mut self, peer: &mut AdmittedPeer) -> Result<(), StoreError> {
        if let Some(site_ca) = peer.new_site_ca.take() {
            let credential = site_ca.credential().clone();
            if self.admission.trust_site_ca(site_ca) {
                self.store.put_credential(&credential)?;
            }
        }
        self.store.put_credential(&peer.credential)?;
        Ok(())
    }

    /// The credentials of every trusted site CA, as anti-entropy offers them.
    pub fn site_ca_credentials(&self) -> Vec<Credential> {
        self.admission
            .site_cas()
            .iter()
            .map(|ca| ca.credential().clone())
            .collect()
    }

    /// Verifies a batch on every core: a node catching up on thousands of revocations
    /// spends nearly all its time in signature checks.
    fn verify_all(
        &self,
        batch: Vec<Revocation>,
    ) -> Vec<Result<VerifiedRevocation, RevocationError>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads == 1 || batch.len() < PARALLEL_BATCH {
            return batch
                .into_iter()
                .map(|r| self.admission.verify_revocation(r))
                .collect();
        }
        let chunk = batch.len().div_ceil(threads);
        let admission = &self.admission;
        let mut batch = batch;
        let mut chunks = Vec::with_capacity(threads);
        while batch.len() > chunk {
            chunks.push(batch.split_off(batch.len() - chunk));
        }
        chunks.push(batch);
        std::thread::scope(|scope| {
            let workers: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .into_iter()
                            .map(|r| admission.verify_revocation(r))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                // A verification that panicked is a bug; take the whole batch down with it.
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e))
                })
                .collect()
        })
    }

    fn index(&mut self, verified: VerifiedRevocation) {
        let id = verified.entry_id();
        let revocation = verified.revocation().clone();
        if self.admission.insert_revocation(verified) {
            self.entries.insert(id, revocation);
        }
    }
}
