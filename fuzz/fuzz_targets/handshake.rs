//! Fuzzes the handshake state machine with whatever a peer may send: the input is cut into
//! control operations (decoded from MessagePack frames, or built from the bytes as `Hello`,
//! `HelloAck` and `Reject` with arbitrary versions, capabilities and metadata) fed to an
//! initiator and an acceptor, with the clock moved in between. Neither may panic, and:
//! the first answer decides (a second one is `Unexpected`); an acceptor that is done agreed
//! on our major, the lower minor, only capabilities both offered, and replies `HelloAck`;
//! an initiator is done only on a compatible `HelloAck` no newer than itself; a `Reject`
//! from us always carries a reply; a timeout comes once, and only when nothing decided.
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use swarm_protocol::core::handshake::{Handshake, HandshakeConfig, HandshakeError, HandshakeStep};
use swarm_protocol::{
    Codec, CodecConfig, ControlOperation, MessageType, ProtocolVersion, RejectCode,
};

struct Input<'a>(std::slice::Iter<'a, u8>);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    fn text(&mut self) -> String {
        let len = (self.byte() % 8) as usize;
        (0..len).map(|_| (b'a' + self.byte() % 4) as char).collect()
    }
    fn texts(&mut self) -> Vec<String> {
        (0..self.byte() % 4).map(|_| self.text()).collect()
    }
    fn metadata(&mut self) -> BTreeMap<String, String> {
        (0..self.byte() % 3)
            .map(|_| (self.text(), self.text()))
            .collect()
    }
    fn version(&mut self) -> ProtocolVersion {
        // Mostly near ours (1.x), sometimes anything.
        let major = if self.byte() % 4 == 0 { self.u16() } else { 1 };
        ProtocolVersion {
            major,
            minor: self.u16() % 4,
        }
    }
    /// A control operation, or `None` when the bytes do not make one.
    fn operation(&mut self, codec: &Codec) -> Option<ControlOperation> {
        match self.byte() % 5 {
            0 => Some(ControlOperation::Hello {
                version: self.version(),
                capabilities: self.texts(),
                metadata: self.metadata(),
            }),
            1 => Some(ControlOperation::HelloAck {
                version: self.version(),
                capabilities: self.texts(),
                metadata: self.metadata(),
            }),
            2 => Some(ControlOperation::Reject {
                code: RejectCode::Protocol,
                reason: self.text(),
            }),
            _ => {
                let len = self.byte() as usize;
                let frame: Vec<u8> = (0..len).map(|_| self.byte()).collect();
                match codec.decode(&frame).ok()?.payload {
                    MessageType::Control { operation } => Some(operation),
                    _ => None,
                }
            }
        }
    }
}

fn config(caps: &[&str]) -> HandshakeConfig {
    HandshakeConfig {
        version: ProtocolVersion { major: 1, minor: 2 },
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        metadata: BTreeMap::from([("node".into(), "us".into())]),
    }
}

fuzz_target!(|data: &[u8]| {
    let codec = Codec::new(CodecConfig::default().with_max_message_size(1 << 16));
    let mut input = Input(data.iter());
    let ours = config(&["a", "ab", "gzip"]);
    let timeout = Duration::from_millis(100);
    let mut now = Duration::ZERO;
    let (mut initiator, hello) = Handshake::initiate(ours.clone(), now, timeout);
    assert!(matches!(hello, ControlOperation::Hello { .. }));
    let mut acceptor = Handshake::accept(ours.clone(), now, timeout);
    let (mut decided_i, mut decided_a) = (false, false);
    let refuse = input.byte() % 2 == 0;
    for _ in 0..16 {
        now += Duration::from_millis(u64::from(input.byte() % 40));
        for (hs, decided) in [
            (&mut initiator, &mut decided_i),
            (&mut acceptor, &mut decided_a),
        ] {
            if let Some(err) = hs.on_timeout(now) {
                assert_eq!(err, HandshakeError::Timeout);
                assert!(!*decided, "a timeout after the handshake was decided");
                *decided = true;
            }
        }
        let Some(op) = input.operation(&codec) else {
            continue;
        };
        let step = initiator.on_control(&op, |_| Ok(()));
        if decided_i {
            assert_eq!(step, HandshakeStep::Failed(HandshakeError::Unexpected));
        } else if let HandshakeStep::Done { reply, negotiated } = &step {
            let ControlOperation::HelloAck {
                version,
                capabilities,
                ..
            } = &op
            else {
                panic!("initiator done on {op:?}");
            };
            assert!(reply.is_none());
            assert!(version.major == 1 && *version <= ours.version);
            assert!(negotiated
                .capabilities
                .iter()
                .all(|c| capabilities.contains(c) && ours.capabilities.contains(c)));
        }
        decided_i = true;
        let step = acceptor.on_control(&op, |_| if refuse { Err("no".into()) } else { Ok(()) });
        if decided_a {
            assert_eq!(step, HandshakeStep::Failed(HandshakeError::Unexpected));
        } else {
            match &step {
                HandshakeStep::Done { reply, negotiated } => {
                    let ControlOperation::Hello {
                        version,
                        capabilities,
                        ..
                    } = &op
                    else {
                        panic!("acceptor done on {op:?}");
                    };
                    assert!(!refuse, "done although authorization refused");
                    assert_eq!(negotiated.version.major, 1);
                    assert_eq!(
                        negotiated.version.minor,
                        version.minor.min(ours.version.minor)
                    );
                    assert!(negotiated
                        .capabilities
                        .iter()
                        .all(|c| capabilities.contains(c) && ours.capabilities.contains(c)));
                    assert!(matches!(reply, Some(ControlOperation::HelloAck { .. })));
                }
                HandshakeStep::Reject { reply, .. } => {
                    assert!(matches!(reply, ControlOperation::Reject { .. }));
                }
                HandshakeStep::Failed(_) => {}
            }
        }
        decided_a = true;
        assert_eq!(initiator.next_deadline(), None);
        assert_eq!(acceptor.next_deadline(), None);
    }
});
