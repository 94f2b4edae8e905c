//! Every table of the registry travels in a snapshot: a learner that joins after the log it
//! would need was purged ends with the same enrollments, nodes, sessions, frame-key epochs,
//! revocations and models as the site, and can open the secrets sealed in them.

mod support;

use support::{NOW, Site, WAIT, create, node};
use tokio::time::Instant;
use ward_consensus::registry::sealing::{self, SealedField};
use ward_consensus::registry::{EnrollmentStatus, SiteStorageKey};
use ward_consensus::{RegistryCommand, RegistryResponse, ReplicaConfig};

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

const SESSION_SECRET: &[u8] = b"oscore master secret and salt";

/// One command of every kind that leaves a record, with what it should answer.
fn one_of_each(key: &SiteStorageKey) -> Vec<(RegistryCommand, RegistryResponse)> {
    let session_secret = sealing::seal(
        key,
        SealedField::SessionSecret { session: b"s1" },
        SESSION_SECRET,
        &mut rng(),
    )
    .expect("seals");
    let frame_key = sealing::seal(
        key,
        SealedField::FrameKey { epoch: 4 },
        &[4; 32],
        &mut rng(),
    )
    .expect("seals");
    vec![
        (
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: vec![0xd2; 64],
                scopes: vec!["stream".into(), "api".into()],
                now: NOW,
            },
            RegistryResponse::Enrolled,
        ),
        (
            RegistryCommand::Enroll {
                camera: "cam-b".into(),
                credential: vec![0xd3; 64],
                scopes: Vec::new(),
                now: NOW,
            },
            RegistryResponse::Enrolled,
        ),
        (
            RegistryCommand::SetEnrollmentStatus {
                camera: "cam-b".into(),
                status: EnrollmentStatus::Suspended,
                now: NOW + 1,
            },
            RegistryResponse::EnrollmentStatusSet { sessions_ended: 0 },
        ),
        (
            RegistryCommand::RecordNode {
                node: 2,
                peer: "12D3KooWnode2".into(),
                credential: vec![0xaa; 64],
                now: NOW,
            },
            RegistryResponse::NodeRecorded,
        ),
        (
            RegistryCommand::CreateSession {
                id: b"s1".to_vec(),
                camera: "cam-a".into(),
                secret: session_secret,
                now: NOW,
                expires_at: NOW + 86_400,
            },
            RegistryResponse::SessionCreated,
        ),
        (
            RegistryCommand::AddFrameKeyEpoch {
                epoch: 4,
                key: frame_key,
                not_before: NOW,
                not_after: NOW + 3600,
            },
            RegistryResponse::FrameKeyEpochAdded,
        ),
        (
            RegistryCommand::AddRevocation {
                id: vec![0x11; 32],
                signed: vec![0x84; 120],
            },
            RegistryResponse::RevocationAdded,
        ),
        (
            RegistryCommand::PutModelSnapshot {
                camera: "cam-a".into(),
                model: vec![0x5e; 256],
            },
            RegistryResponse::ModelStored { revision: 1 },
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_installed_on_a_lagging_learner_carries_every_table() {
    let config = ReplicaConfig {
        snapshot_every: 20,
        keep_behind_snapshot: 2,
        ..ReplicaConfig::default()
    };
    let mut site = Site::with_voters(3, config).await;
    let key = SiteStorageKey::generate(&mut rng());
    for (command, expected) in one_of_each(&key) {
        let answer = site.replicas[&1].write(command).await.expect("written");
        assert_eq!(answer, expected);
    }
    // Enough writes after them that the log holding them is purged at the leader.
    for i in 0..80 {
        site.replicas[&1]
            .write(create(&format!("token-{i}")))
            .await
            .expect("written");
    }
    let leader = site.leader_within(WAIT).await;
    let deadline = Instant::now() + WAIT;
    while site.replicas[&leader].metrics().purged.is_none() {
        assert!(Instant::now() < deadline, "the leader never purged its log");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    site.start(4).await;
    site.replicas[&leader]
        .add_learner(4, node(4))
        .await
        .expect("learner added");
    site.settled().await;
    let learner = &site.replicas[&4];
    assert!(
        learner.metrics().snapshot.is_some(),
        "the learner was not sent a snapshot"
    );

    let enrollment = learner.enrollment("cam-a").expect("read").expect("cam-a");
    assert_eq!(enrollment.status, EnrollmentStatus::Active);
    assert_eq!(
        enrollment.scopes,
        vec!["stream".to_owned(), "api".to_owned()]
    );
    let suspended = learner.enrollment("cam-b").expect("read").expect("cam-b");
    assert_eq!(suspended.status, EnrollmentStatus::Suspended);
    assert_eq!(
        learner.node_record(2).expect("read").expect("node 2").peer,
        "12D3KooWnode2"
    );

    let session = learner.session(b"s1").expect("read").expect("session s1");
    assert_eq!(session.camera, "cam-a");
    assert!(session.is_live(NOW + 60));
    let opened = sealing::open(
        &key,
        SealedField::SessionSecret { session: b"s1" },
        &session.secret,
    )
    .expect("the learner's copy opens");
    assert_eq!(opened.as_slice(), SESSION_SECRET);

    let (epoch, frame_key) = learner
        .latest_frame_key_epoch()
        .expect("read")
        .expect("an epoch");
    assert_eq!(epoch, 4);
    assert_eq!(
        learner.frame_key_epoch(4).expect("read"),
        Some(frame_key.clone())
    );
    assert!(sealing::open(&key, SealedField::FrameKey { epoch: 4 }, &frame_key.key).is_ok());

    assert_eq!(learner.revocation_count().expect("read"), 1);
    assert_eq!(
        learner
            .revocation(&[0x11; 32])
            .expect("read")
            .expect("revocation")
            .signed,
        vec![0x84; 120]
    );
    assert_eq!(
        learner
            .model_snapshot("cam-a")
            .expect("read")
            .expect("model")
            .revision,
        1
    );
    assert!(learner.join_token(b"token-79").expect("read").is_some());
}
