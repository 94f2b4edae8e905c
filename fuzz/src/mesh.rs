//! The fixed fleet as a mesh node sees it: two peers with fixed libp2p identities, a node
//! key, a second site CA that the node does not trust yet, and the node's admission policy.
//!
//! Like [`crate::fleet`], the keys are written into the code so that `make_seeds` can sign
//! admission messages and gossip that pass every check of the mesh targets. Nothing here
//! protects anything.

use std::sync::OnceLock;

use libp2p_identity::{Keypair, PeerId};
use ward_crypto::{Credential, FleetRoot, NoRevocations, Role, SecretKey};
use ward_node::mesh::Admission;

use crate::fleet::{NOW, ROOT_NAME, claims, fleet, key_file};

/// The subject, and site, of the second site CA.
pub const OTHER_SITE: &str = "site-fuzz-2";

/// What the mesh targets share, built once.
#[derive(Debug)]
pub struct Mesh {
    /// The peer whose node credential the seeds carry.
    pub peer: PeerId,
    /// Another peer, with a node credential of its own in the seeds.
    pub other_peer: PeerId,
    /// The P-256 key of `peer`'s node credential.
    pub node_key: SecretKey,
    /// A site CA of the fleet that [`Mesh::admission`] does not trust: a node it issued is
    /// admitted only if its message brings it.
    pub other_site_ca: Credential,
    /// The other site CA's P-256 key.
    pub other_site_key: SecretKey,
    /// The policy of a node of the fixed fleet that trusts its one site CA, at
    /// [`crate::fleet::NOW`], with no revocations.
    pub admission: Admission,
}

/// The mesh fixture, built on first use.
pub fn mesh() -> &'static Mesh {
    static MESH: OnceLock<Mesh> = OnceLock::new();
    MESH.get_or_init(Mesh::build)
}

/// The first input byte of the admission target picks the remote peer: `peer` when even,
/// `other_peer` when odd.
pub fn remote_peer(selector: u8) -> PeerId {
    let mesh = mesh();
    if selector % 2 == 0 {
        mesh.peer
    } else {
        mesh.other_peer
    }
}

impl Mesh {
    fn build() -> Mesh {
        let fleet = fleet();
        let peer_id = |secret: [u8; 32]| {
            Keypair::ed25519_from_bytes(secret)
                .expect("32 bytes are an Ed25519 secret key")
                .public()
                .to_peer_id()
        };
        let other_site_key = key_file(0x02, 0x01, [0x5d; 32]);
        let other_site_ca = Credential::sign(
            claims(
                ROOT_NAME,
                OTHER_SITE,
                &other_site_key,
                Role::SiteCa,
                Some(OTHER_SITE),
                &[],
                4,
            ),
            &fleet.root_key,
        );

        // The admission policy as a node builds it from its configuration.
        let root = FleetRoot::new(fleet.root.credential().clone())
            .expect("the fixed root is self-signed and well formed");
        let site_ca = root
            .validate_site_ca(fleet.site_ca.credential(), NOW, &NoRevocations)
            .expect("the fixed site CA chains to the fixed root");
        root.validate_site_ca(&other_site_ca, NOW, &NoRevocations)
            .expect("the second site CA chains to the fixed root");
        Mesh {
            peer: peer_id([0xa1; 32]),
            other_peer: peer_id([0xb2; 32]),
            node_key: key_file(0x02, 0x01, [0x4e; 32]),
            other_site_ca,
            other_site_key,
            admission: Admission::new(root, vec![site_ca]),
        }
    }
}
