//! Protecting and verifying requests and responses (RFC 8613 §8), and answering a request
//! whose freshness cannot be established with an Echo challenge (RFC 9175 §2.3, RFC 8613
//! Appendix B.1.2).
//!
//! ```text
//! original message                         OSCORE message
//!   header (type, MID, token)  ---------->   same header
//!   code                       --encrypt->   outer code POST / 2.04 (FETCH / 2.05 if Observe)
//!   Class E options            --encrypt->   OSCORE option: flags | Partial IV | kid ...
//!   Class U options            ---------->   Class U options
//!   payload                    --encrypt->   payload = ciphertext | tag
//! ```

use alloc::vec::Vec;

use super::classes::{Direction, is_outer_only, split};
use super::context::{EchoValue, Freshness, Id, SecurityContext};
use super::cose::{aad, nonce};
use super::error::OscoreError;
use super::header::{OscoreOption, PartialIv};
use crate::backend::{AEAD_TAG_LEN, Backend};
use crate::coap::{
    CoapOption, Code, DEFAULT_MAX_OPTIONS, Message, OptionNumber, decode_options, encode_options,
};

/// What ties a response to its request: the request's 'kid' and Partial IV, which enter the
/// response's AAD (§7.1) and, unless the response has its own Partial IV, its nonce (§5.2).
///
/// Not `Clone`: the request nonce may protect one response only (Appendix D.4), which the
/// server side of a binding remembers.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestBinding {
    kid: Id,
    partial_iv: PartialIv,
    nonce_used: bool,
    observe: bool,
}

impl RequestBinding {
    /// The request's 'kid': the client's Sender ID.
    pub fn kid(&self) -> &[u8] {
        self.kid.as_slice()
    }

    /// The request's Partial IV.
    pub fn partial_iv(&self) -> PartialIv {
        self.partial_iv
    }
}

/// A request that passed verification (§8.2 step 7).
#[derive(Debug)]
pub struct VerifiedRequest {
    /// The decrypted request: outer header, Class U options, and the inner code, options
    /// and payload. The OSCORE option is removed.
    pub request: Message,
    /// What the response must be bound to.
    pub binding: RequestBinding,
}

/// An authentic request that cannot be processed until it proves fresh. Answer it with
/// [`SecurityContext::challenge`]; do not hand the request to the application.
#[derive(Debug)]
pub struct FreshnessChallenge {
    binding: RequestBinding,
}

/// The outcome of verifying an authentic request.
#[derive(Debug)]
#[must_use]
pub enum Verdict {
    /// Fresh and not a replay: process it.
    Accepted(VerifiedRequest),
    /// The replay state cannot vouch for it (a context restored from storage): answer with an
    /// Echo challenge (RFC 9175 §2.3, Appendix B.1.2).
    FreshnessRequired(FreshnessChallenge),
}

/// A response that passed verification (§8.4 step 6).
#[derive(Debug)]
pub struct VerifiedResponse {
    /// The decrypted response.
    pub response: Message,
    /// The response's own Partial IV, if it had one (notifications order by it, §4.1.3.5.2).
    pub partial_iv: Option<u64>,
}

/// How a response's nonce is made (§8.3 step 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseNonce {
    /// Reuse the request's nonce and send no Partial IV: the usual single response.
    FromRequest,
    /// Take a Partial IV from the Sender Sequence Number and send it: notifications after
    /// the first, and responses when the replay state is not trusted (Appendix B.1.2).
    Fresh,
}

/// The plaintext of §5.3: the code, the Class E options, and the payload after a marker.
fn plaintext(code: Code, inner: &[CoapOption], payload: &[u8]) -> Result<Vec<u8>, OscoreError> {
    let mut out = Vec::with_capacity(1 + payload.len() + AEAD_TAG_LEN + 16);
    out.push(code.to_byte());
    encode_options(inner, &mut out)?;
    if !payload.is_empty() {
        out.push(0xff);
        out.extend_from_slice(payload);
    }
    Ok(out)
}

/// Rebuilds the original message from the OSCORE message and the decrypted plaintext
/// (§8.2 steps 1 and 7, §8.4 steps 1 and 6): the outer header, the outer Class U options,
/// then the inner code, options and payload.
fn reassemble(outer: &Message, plaintext: &[u8]) -> Result<Message, OscoreError> {
    let (&code, rest) = plaintext
        .split_first()
        .ok_or(OscoreError::MalformedPlaintext("empty plaintext"))?;
    let (inner, payload) = decode_options(rest, DEFAULT_MAX_OPTIONS)
        .map_err(|_| OscoreError::MalformedPlaintext("options"))?;
    let mut message = Message::new(
        outer.message_type,
        Code::from_byte(code),
        outer.message_id,
        outer.token,
    );
    // Step 1: discard the outer code and every outer option that is not Class U only; the
    // OSCORE option itself is removed (step 7).
    let mut options: Vec<CoapOption> = outer
        .options()
        .iter()
        .filter(|o| is_outer_only(o.number))
        .cloned()
        .collect();
    options.extend(inner);
    message.set_options(options);
    message.payload = payload.to_vec();
    Ok(message)
}

/// Reads the OSCORE option and checks the payload is present (§2, §6).
fn oscore_fields(message: &Message) -> Result<OscoreOption<'_>, OscoreError> {
    let value = message.oscore().ok_or(OscoreError::NotOscore)?;
    // §2: the OSCORE option is not repeatable.
    if message.option_count(OptionNumber::OSCORE) > 1 {
        return Err(OscoreError::Malformed("repeated OSCORE option"));
    }
    // §2: an OSCORE message without payload is malformed.
    if message.payload.is_empty() {
        return Err(OscoreError::Malformed("no payload"));
    }
    OscoreOption::decode(value)
}

impl SecurityContext {
    /// Protects a request (§8.1). Returns the OSCORE request and the binding with which to
    /// verify its response.
    pub fn protect_request<B: Backend>(
        &mut self,
        backend: &B,
        request: &Message,
    ) -> Result<(Message, RequestBinding), OscoreError> {
        if !request.code.is_request() {
            return Err(OscoreError::Unprotectable("not a request"));
        }
        let parts = split(request.options(), Direction::Request)?;
        let plaintext = plaintext(request.code, &parts.inner, &request.payload)?;

        // Step 3: the Partial IV is the Sender Sequence Number, which moves on at once.
        let piv = self.next_partial_iv()?;
        let aad = aad(self.sender_id.as_slice(), piv.as_bytes());
        let nonce = nonce(&self.keys.common_iv, self.sender_id.as_slice(), &piv);
        let mut ciphertext = plaintext;
        backend.aead_seal(&self.keys.sender_key, &nonce, &aad, &mut ciphertext);

        // §5: requests carry the Partial IV and the kid, and the kid context if configured.
        let option = OscoreOption {
            partial_iv: Some(piv),
            kid_context: self.id_context.as_deref().filter(|_| self.send_kid_context),
            kid: Some(self.sender_id.as_slice()),
        };
        // §4.2: the outer code is POST, or FETCH for an Observe request (§4.1.3.5).
        let observe = request.option(OptionNumber::OBSERVE).is_some();
        let code = if observe { Code::FETCH } else { Code::POST };
        let mut protected = Message::new(
            request.message_type,
            code,
            request.message_id,
            request.token,
        );
        let mut outer = parts.outer;
        outer.push(CoapOption {
            number: OptionNumber::OSCORE,
            value: option.encode()?,
        });
        protected.set_options(outer);
        protected.payload = ciphertext;
        let binding = RequestBinding {
            kid: self.sender_id,
            partial_iv: piv,
            nonce_used: false,
            observe,
        };
        Ok((protected, binding))
    }

    /// Verifies a request (§8.2) with this context, which the caller looked up by the
    /// request's 'kid' and 'kid context' (see [`OscoreOption::decode`]).
    ///
    /// Errors are the peer's faults of §8.2; [`OscoreError::response_code`] gives the
    /// unprotected response a server may send. An authentic request that this context cannot
    /// vouch is fresh yields [`Verdict::FreshnessRequired`].
    pub fn verify_request<B: Backend>(
        &mut self,
        backend: &B,
        request: &Message,
    ) -> Result<Verdict, OscoreError> {
        // Step 2: decompress, and check the context is the one the kid names.
        let fields = oscore_fields(request)?;
        let (Some(piv), Some(kid)) = (fields.partial_iv, fields.kid) else {
            // §5: a request SHALL carry both.
            return Err(OscoreError::Malformed("request without Partial IV or kid"));
        };
        if kid != self.recipient_id.as_slice() {
            return Err(OscoreError::UnknownContext);
        }
        // §5: with a 'kid context', the context must have that ID Context.
        if fields
            .kid_context
            .is_some_and(|c| Some(c) != self.id_context.as_deref())
        {
            return Err(OscoreError::UnknownContext);
        }

        // Step 3: the replay window, unless it cannot be trusted (Appendix B.1.2).
        let established = self.freshness == Freshness::Established;
        if established {
            self.replay.check(piv.value())?;
        }

        // Steps 4 to 6.
        let aad = aad(kid, piv.as_bytes());
        let nonce = nonce(&self.keys.common_iv, kid, &piv);
        let mut plaintext = request.payload.clone();
        backend
            .aead_open(&self.keys.recipient_key, &nonce, &aad, &mut plaintext)
            .map_err(|_| OscoreError::DecryptionFailed)?;
        if established {
            // Step 6: the window moves only for an authentic request.
            self.replay.accept(piv.value())?;
        }

        // Step 7.
        let decrypted = reassemble(request, &plaintext)?;
        if !decrypted.code.is_request() {
            return Err(OscoreError::MalformedPlaintext(
                "inner code is not a method",
            ));
        }
        let binding = RequestBinding {
            kid: self.recipient_id,
            partial_iv: piv,
            nonce_used: false,
            observe: decrypted.option(OptionNumber::OBSERVE).is_some(),
        };
        if established {
            return Ok(Verdict::Accepted(VerifiedRequest {
                request: decrypted,
                binding,
            }));
        }

        // RFC 9175 §2.3: a request returning the Echo value we sent is fresh; Appendix B.1.2:
        // its Partial IV becomes the lower limit of the replay window.
        let echoed = match self.freshness {
            Freshness::Challenged(sent) => decrypted.echo().ok().flatten() == Some(sent.as_slice()),
            _ => false,
        };
        if !echoed {
            return Ok(Verdict::FreshnessRequired(FreshnessChallenge { binding }));
        }
        self.replay.restart_at(piv.value());
        self.freshness = Freshness::Established;
        Ok(Verdict::Accepted(VerifiedRequest {
            request: decrypted,
            binding,
        }))
    }

    /// Protects a response to a verified request (§8.3).
    ///
    /// [`ResponseNonce::FromRequest`] may be used once per request: a second response (an
    /// Observe notification) needs [`ResponseNonce::Fresh`] (§4.1.3.5.2, Appendix D.4).
    pub fn protect_response<B: Backend>(
        &mut self,
        backend: &B,
        response: &Message,
        binding: &mut RequestBinding,
        nonce_choice: ResponseNonce,
    ) -> Result<Message, OscoreError> {
        if !response.code.is_response() {
            return Err(OscoreError::Unprotectable("not a response"));
        }
        let parts = split(response.options(), Direction::Response)?;
        let plaintext = plaintext(response.code, &parts.inner, &response.payload)?;

        // Step 3: the request's nonce, or a new Partial IV of our own.
        let (nonce, own_piv) = match nonce_choice {
            ResponseNonce::FromRequest => {
                if binding.nonce_used {
                    return Err(OscoreError::NonceReuse);
                }
                binding.nonce_used = true;
                let request_nonce = nonce(
                    &self.keys.common_iv,
                    binding.kid.as_slice(),
                    &binding.partial_iv,
                );
                (request_nonce, None)
            }
            ResponseNonce::Fresh => {
                let piv = self.next_partial_iv()?;
                (
                    nonce(&self.keys.common_iv, self.sender_id.as_slice(), &piv),
                    Some(piv),
                )
            }
        };
        let aad = aad(binding.kid.as_slice(), binding.partial_iv.as_bytes());
        let mut ciphertext = plaintext;
        backend.aead_seal(&self.keys.sender_key, &nonce, &aad, &mut ciphertext);

        // Step 4: a new Partial IV is sent, the request's is not.
        let option = OscoreOption {
            partial_iv: own_piv,
            ..OscoreOption::default()
        };
        // §4.2: the outer code is 2.04, or 2.05 for an Observe response (§4.1.3.5).
        let observe = response.option(OptionNumber::OBSERVE).is_some();
        let code = if observe {
            Code::CONTENT
        } else {
            Code::CHANGED
        };
        let mut protected = Message::new(
            response.message_type,
            code,
            response.message_id,
            response.token,
        );
        let mut outer = parts.outer;
        outer.push(CoapOption {
            number: OptionNumber::OSCORE,
            value: option.encode()?,
        });
        protected.set_options(outer);
        protected.payload = ciphertext;
        Ok(protected)
    }

    /// Verifies a response to a request protected with this context (§8.4).
    pub fn verify_response<B: Backend>(
        &self,
        backend: &B,
        response: &Message,
        binding: &RequestBinding,
    ) -> Result<VerifiedResponse, OscoreError> {
        let fields = oscore_fields(response)?;
        // A 'kid' or 'kid context' in a response must name this context (§5, §5.1).
        if fields
            .kid
            .is_some_and(|k| k != self.recipient_id.as_slice())
            || fields
                .kid_context
                .is_some_and(|c| Some(c) != self.id_context.as_deref())
        {
            return Err(OscoreError::UnknownContext);
        }
        // Step 4: the server's Partial IV with its Sender ID, or the request's nonce.
        let nonce = match &fields.partial_iv {
            Some(piv) => nonce(&self.keys.common_iv, self.recipient_id.as_slice(), piv),
            None => nonce(
                &self.keys.common_iv,
                binding.kid.as_slice(),
                &binding.partial_iv,
            ),
        };
        let aad = aad(binding.kid.as_slice(), binding.partial_iv.as_bytes());
        let mut plaintext = response.payload.clone();
        backend
            .aead_open(&self.keys.recipient_key, &nonce, &aad, &mut plaintext)
            .map_err(|_| OscoreError::DecryptionFailed)?;
        let decrypted = reassemble(response, &plaintext)?;
        if !decrypted.code.is_response() {
            return Err(OscoreError::MalformedPlaintext(
                "inner code is not a response",
            ));
        }
        // §4.1.3.5.2: an Inner Observe in a response to a non-Observe request stops processing.
        if !binding.observe && decrypted.option(OptionNumber::OBSERVE).is_some() {
            return Err(OscoreError::MalformedPlaintext(
                "Observe in a non-Observe response",
            ));
        }
        Ok(VerifiedResponse {
            response: decrypted,
            partial_iv: fields.partial_iv.map(|p| p.value()),
        })
    }

    /// Answers a request that must prove freshness: a protected 4.01 (Unauthorized) carrying
    /// only an Inner Echo option (Appendix B.1.2, RFC 9175 §2.2.1), with a Partial IV of our
    /// own since the request's nonce cannot be trusted not to repeat.
    ///
    /// `request` is the received OSCORE request, for its token and message ID. `echo` is 1 to
    /// 40 unpredictable bytes the caller draws (8 or more recommended). It is used only when
    /// no value is outstanding: while one is, every challenge repeats it, so an attacker
    /// replaying old requests cannot keep replacing the value the genuine peer is about to
    /// return. [`SecurityContext::require_freshness`] discards an outstanding value.
    pub fn challenge<B: Backend>(
        &mut self,
        backend: &B,
        request: &Message,
        challenge: FreshnessChallenge,
        echo: &[u8],
    ) -> Result<Message, OscoreError> {
        let value = match self.freshness {
            Freshness::Challenged(outstanding) => outstanding,
            _ => EchoValue::new(echo).ok_or(OscoreError::Unprotectable("Echo length"))?,
        };
        let mut response = Message::response_to(request, Code::UNAUTHORIZED);
        response.set_echo(value.as_slice())?;
        let mut binding = challenge.binding;
        let protected =
            self.protect_response(backend, &response, &mut binding, ResponseNonce::Fresh)?;
        self.freshness = Freshness::Challenged(value);
        Ok(protected)
    }
}

/// The unprotected error response §8.2 allows for a request that failed with `error`, with
/// an Outer Max-Age of zero so that proxies do not cache it (§4.1.3.1), or `None` when the
/// failure is not the peer's.
pub fn error_response(request: &Message, error: &OscoreError) -> Option<Message> {
    let code = error.response_code()?;
    let mut response = Message::response_to(request, code);
    response.set_max_age(0);
    Some(response)
}
