//! The `Authorization` header of a case, and whether the service must accept it.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use super::{values::flip_b64, Render};
use crate::{
    fuzz::{
        fixture::{IDP_AUDIENCE, IDP_ISSUER},
        request::Cred,
        strategies::{Auth, Tamper},
    },
    helpers::{ids, SECRET},
};

impl Render<'_> {
    fn fixture_token(&self, user: u8) -> &str {
        &self.fx.accounts[usize::from(user) % self.fx.accounts.len()].token
    }

    /// The `Authorization` header and whether the server must accept it.
    pub(super) fn auth(&self, a: &Auth) -> (Option<Vec<u8>>, Cred) {
        let secret_key = EncodingKey::from_secret(SECRET).expect("HS256 key");
        let sign = |header: &Header, claims: &Value, key: &EncodingKey| {
            encode(header, claims, key).expect("sign")
        };
        let bearer = |t: &str| Some(format!("Bearer {t}").into_bytes());
        match a {
            Auth::None => (None, Cred::Anonymous),
            Auth::Fixture { user, scheme } => {
                let t = self.fixture_token(*user);
                let (header, valid) = match scheme % 11 {
                    0 => (format!("Bearer {t}"), true),
                    1 => (format!("bearer {t}"), true),
                    2 => (format!("BEARER {t}"), true),
                    3 => (format!("Bearer  {t}"), true),
                    4 => (format!("Bearer {t} "), true),
                    5 => (format!("Bearer\t{t}"), false),
                    6 => (format!("Token {t}"), false),
                    7 => (t.to_owned(), false),
                    8 => (format!("Bearer {t}, Bearer {t}"), false),
                    9 => ("Bearer".to_owned(), false),
                    _ => ("Bearer ".to_owned(), false),
                };
                (Some(header.into_bytes()), Cred::token(valid))
            }
            Auth::Bytes(b) => (Some(b.clone()), Cred::Invalid),
            Auth::Bearer(t) => (bearer(&t.render()), Cred::Invalid),
            Auth::Shaped(parts) => {
                let t: Vec<String> = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect();
                (bearer(&t.join(".")), Cred::Invalid)
            }
            Auth::Json {
                header,
                claims,
                sig,
            } => {
                let t = format!(
                    "{}.{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string()),
                    URL_SAFE_NO_PAD.encode(sig)
                );
                (bearer(&t), Cred::Invalid)
            }
            Auth::Tampered { user, how } => {
                let original = self.fixture_token(*user).to_owned();
                let t = self.tamper(&original, how);
                let cred = Cred::token(t == original);
                (bearer(&t), cred)
            }
            Auth::Signed(c) => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = c.kid.map(|k| match k % 3 {
                    0 => "ec-p256".to_owned(),
                    1 => "rsa-2025".to_owned(),
                    _ => format!("k{k}"),
                });
                let t = sign(&header, &c.claims(self.fx), &secret_key);
                (bearer(&t), Cred::token(c.valid()))
            }
            Auth::OtherKey(user) => {
                let other = tally::auth::token::Tokens::new(
                    b"another-secret-another-secret-another!",
                    chrono::Duration::hours(1),
                    ids(),
                )
                .expect("tokens");
                let account = &self.fx.accounts[usize::from(*user) % self.fx.accounts.len()];
                let id = ids()
                    .decode_id("sub", tally::ids::Kind::User, &account.id)
                    .map_err(|e| e.message())
                    .expect("fixture ID");
                let (t, _) = other
                    .issue(id, uuid::Uuid::now_v7(), Utc::now())
                    .map_err(|e| e.message())
                    .expect("issue");
                (bearer(&t), Cred::Invalid)
            }
            Auth::Idp(s) => {
                let (kid, alg, key) =
                    &self.fx.idp_keys[usize::from(s.key) % self.fx.idp_keys.len()];
                let mut header = Header::new(*alg);
                header.kid = Some(match s.kid % 3 {
                    0 => (*kid).to_owned(),
                    1 => if *kid == "ed25519" {
                        "ec-p256"
                    } else {
                        "ed25519"
                    }
                    .to_owned(),
                    _ => format!("unknown-{}", s.kid),
                });
                let now = Utc::now().timestamp();
                let mut claims = json!({
                    "sub": s.subject(),
                    "iss": if s.iss { IDP_ISSUER } else { "https://evil.test/" },
                    "iat": now,
                    "exp": if s.expired { now - 3600 } else { now + 3600 },
                });
                match s.aud % 4 {
                    0 => claims["aud"] = json!(IDP_AUDIENCE),
                    1 => claims["aud"] = json!("someone-else"),
                    2 => claims["aud"] = json!(["x", IDP_AUDIENCE]),
                    _ => {}
                }
                let t = sign(&header, &claims, key);
                (bearer(&t), Cred::token(s.valid()))
            }
        }
    }

    fn tamper(&self, token: &str, how: &Tamper) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        let [h, p, s] = parts[..] else {
            panic!("a fixture token has three parts: {token}");
        };
        let payload = || -> Map<String, Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("payload")).expect("JSON")
        };
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        match how {
            Tamper::Flip { part, bit } => {
                let mut ps = [h.to_owned(), p.to_owned(), s.to_owned()];
                let i = usize::from(*part) % 3;
                ps[i] = flip_b64(&ps[i], *bit);
                ps.join(".")
            }
            Tamper::Sub(pick) => {
                let mut c = payload();
                c.insert("sub".into(), json!(self.real_id(pick % 2 == 1, *pick / 2)));
                format!("{h}.{}.{s}", enc(&Value::Object(c)))
            }
            Tamper::Claim { name, value } => {
                let names = ["exp", "iss", "aud", "sub", "iat", "nbf", "admin", "role"];
                let mut c = payload();
                c.insert(
                    names[usize::from(*name) % names.len()].into(),
                    value.clone(),
                );
                format!("{h}.{}.{s}", enc(&Value::Object(c)))
            }
            Tamper::AlgNone { keep_sig } => {
                let header = enc(&json!({ "alg": "none", "typ": "JWT" }));
                if *keep_sig {
                    format!("{header}.{p}.{s}")
                } else {
                    format!("{header}.{p}.")
                }
            }
            Tamper::Alg(i) => {
                let algs = [
                    "HS384", "HS512", "RS256", "ES256", "EdDSA", "none", "NONE", "hs256", "",
                ];
                let header =
                    enc(&json!({ "alg": algs[usize::from(*i) % algs.len()], "typ": "JWT" }));
                format!("{header}.{p}.{s}")
            }
            Tamper::Kid(i) => {
                let kids = [
                    "ec-p256",
                    "rsa-2025",
                    "ed25519",
                    "x",
                    "../../etc/passwd",
                    "",
                ];
                let header = enc(
                    &json!({ "alg": "HS256", "typ": "JWT", "kid": kids[usize::from(*i) % kids.len()] }),
                );
                format!("{header}.{p}.{s}")
            }
            Tamper::NoSig(dot) => {
                if *dot {
                    format!("{h}.{p}.")
                } else {
                    format!("{h}.{p}")
                }
            }
            Tamper::ExtraSegment => format!("{token}.{s}"),
            Tamper::Cut(n) => token[..usize::from(*n) % token.len()].to_owned(),
            Tamper::Space(n) => {
                // Inside the token: a space before it is only more separation.
                let at = 1 + usize::from(*n) % (token.len() - 1);
                format!("{} {}", &token[..at], &token[at..])
            }
            Tamper::SwapCase => token
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
        }
    }
}
