//! Values as GraphQL or JSON: of an argument's own type, of any type, real and mangled IDs
//! and cursors, variables.
use std::fmt::Write as _;

use async_graphql::parser::types::{BaseType, Type};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::Render;
use crate::{
    fuzz::strategies::{ArgVal, CursorSpec, IdSpec, Typed, VarValue, Wild, VAR_TYPES},
    helpers::ids,
};

/// A value as GraphQL or JSON.
#[derive(Debug, Clone)]
pub(super) enum V {
    Int(i64),
    Raw(String),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<V>),
    Obj(Vec<(String, V)>),
    Var(String),
}

impl V {
    pub(super) fn gql(&self, out: &mut String) {
        match self {
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Raw(s) => out.push_str(s),
            V::Float(f) if f.is_finite() => {
                let _ = write!(out, "{f:?}");
            }
            V::Float(_) => out.push_str("1e999"),
            V::Str(s) => out.push_str(&serde_json::to_string(s).expect("string")),
            V::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            V::Null => out.push_str("null"),
            V::Enum(e) => out.push_str(e),
            V::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.gql(out);
                }
                out.push(']');
            }
            V::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    v.gql(out);
                }
                out.push('}');
            }
            V::Var(n) => {
                out.push('$');
                out.push_str(n);
            }
        }
    }

    pub(super) fn json(&self) -> Value {
        match self {
            V::Int(i) => json!(i),
            V::Raw(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            V::Str(s) | V::Enum(s) => Value::String(s.clone()),
            V::Bool(b) => Value::Bool(*b),
            V::Null => Value::Null,
            V::List(items) => Value::Array(items.iter().map(V::json).collect()),
            V::Obj(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
            V::Var(n) => Value::String(format!("${n}")),
        }
    }
}

/// What an argument is about: an ID of which kind, a cursor.
#[derive(Clone, Copy)]
pub(super) struct Hint {
    cursor: bool,
    video: Option<bool>,
}

impl Hint {
    pub(super) fn of(field: &str, arg: &str) -> Hint {
        let video = match arg {
            "videoId" => Some(true),
            "userId" => Some(false),
            "id" if matches!(field, "video" | "deleteVideo") => Some(true),
            _ => None,
        };
        Hint {
            cursor: arg == "after",
            video,
        }
    }
}

struct Tape<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Tape<'_> {
    fn next(&mut self) -> usize {
        let b = if self.bytes.is_empty() {
            0
        } else {
            self.bytes[self.at % self.bytes.len()]
        };
        self.at += 1;
        usize::from(b)
    }
}

pub(super) fn flip_b64(text: &str, bit: u16) -> String {
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(mut bytes) if !bytes.is_empty() => {
            let bit = usize::from(bit) % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            URL_SAFE_NO_PAD.encode(bytes)
        }
        _ => format!("{text}A"),
    }
}

/// `text` re-encoded or re-spelled in a way that is not the canonical form.
fn recode(text: &str, how: u8) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(text).unwrap_or_default();
    match how % 6 {
        0 => format!("{text}=="),
        1 => STANDARD.encode(&bytes),
        2 => text.to_uppercase(),
        3 => format!(" {text} "),
        4 => text.replace('-', "%2D").replace('_', "%5F") + "%3D",
        _ => URL_SAFE_NO_PAD.encode([bytes.as_slice(), &[0]].concat()),
    }
}

fn cut(text: &str, keep: usize) -> String {
    text.chars()
        .take(keep % text.chars().count().max(1))
        .collect()
}

impl Render<'_> {
    pub(super) fn real_id(&self, video: bool, pick: u8) -> String {
        let pick = usize::from(pick);
        if video {
            self.fx.videos[pick % self.fx.videos.len()].clone()
        } else {
            self.fx.accounts[pick % self.fx.accounts.len()].id.clone()
        }
    }

    fn id(&self, spec: &IdSpec, want: Option<bool>) -> String {
        match spec {
            IdSpec::Matching(pick) => {
                let video = want.unwrap_or(pick % 2 == 1);
                self.real_id(video, *pick / 2)
            }
            IdSpec::Real { video, pick } => self.real_id(*video, *pick),
            IdSpec::Flipped { video, pick, bit } => flip_b64(&self.real_id(*video, *pick), *bit),
            IdSpec::Cut { video, pick, keep } => {
                cut(&self.real_id(*video, *pick), usize::from(*keep))
            }
            IdSpec::Junk { video, pick, junk } => self.real_id(*video, *pick) + &junk.render(),
            IdSpec::Recoded { video, pick, how } => recode(&self.real_id(*video, *pick), *how),
            IdSpec::Fresh { video, uuid } => ids().encode_id(
                if *video {
                    tally::ids::Kind::Video
                } else {
                    tally::ids::Kind::User
                },
                Uuid::from_u128(*uuid),
            ),
            IdSpec::Kinded { tag, bytes } => {
                URL_SAFE_NO_PAD.encode([&[*tag][..], bytes.as_slice()].concat())
            }
            IdSpec::B64(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            IdSpec::Text(t) => t.render(),
        }
    }

    fn real_cursor(&self, pick: u8) -> &str {
        &self.fx.cursors[usize::from(pick) % self.fx.cursors.len()]
    }

    fn cursor(&self, spec: &CursorSpec) -> String {
        match spec {
            CursorSpec::Real(p) => self.real_cursor(*p).to_owned(),
            CursorSpec::Flipped(p, bit) => flip_b64(self.real_cursor(*p), *bit),
            CursorSpec::Cut(p, keep) => cut(self.real_cursor(*p), usize::from(*keep)),
            CursorSpec::Junk(p, junk) => self.real_cursor(*p).to_owned() + &junk.render(),
            CursorSpec::Recoded(p, how) => recode(self.real_cursor(*p), *how),
            CursorSpec::Kinded { kind, bytes } => {
                URL_SAFE_NO_PAD.encode([&[*kind][..], bytes.as_slice()].concat())
            }
            CursorSpec::B64(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            CursorSpec::Text(t) => t.render(),
            CursorSpec::Id(id) => self.id(id, None),
        }
    }

    /// A value of type `ty`.
    fn typed(&self, t: &Typed, ty: &Type, hint: Hint, tape: &mut Tape, depth: usize) -> V {
        if ty.nullable && tape.next() % 8 == 7 {
            return V::Null;
        }
        match &ty.base {
            BaseType::List(inner) => {
                let n = if depth > 3 { 0 } else { tape.next() % 4 };
                V::List(
                    (0..n)
                        .map(|_| self.typed(t, inner, hint, tape, depth + 1))
                        .collect(),
                )
            }
            BaseType::Named(name) => match name.as_str() {
                "Int" => V::Int(if tape.next().is_multiple_of(3) {
                    (tape.next() % 30) as i64
                } else if self.clean && i32::try_from(t.int).is_err() {
                    t.int.rem_euclid(200) - 50
                } else {
                    t.int
                }),
                "Float" => V::Float(t.int as f64 / 7.0),
                "Boolean" => V::Bool(tape.next().is_multiple_of(2)),
                "ID" => V::Str(self.id(&t.id, hint.video)),
                "String" if hint.cursor => V::Str(self.cursor(&t.cursor)),
                "String" => V::Str(match tape.next() % 4 {
                    0 => format!("fz{:x}{:x}", tape.next(), tape.next()),
                    1 => t.text.render() + "-x",
                    _ => t.text.render(),
                }),
                other => {
                    if let Some(values) = self.m.enums.get(other) {
                        V::Enum(values[tape.next() % values.len()].clone())
                    } else if let Some(fields) = self.m.inputs.get(other) {
                        let mut obj = Vec::new();
                        for (fname, fty) in fields {
                            if fty.nullable && !tape.next().is_multiple_of(3) {
                                continue;
                            }
                            let hint = Hint::of(other, fname);
                            obj.push((fname.clone(), self.typed(t, fty, hint, tape, depth + 1)));
                        }
                        V::Obj(obj)
                    } else {
                        V::Str(t.text.render())
                    }
                }
            },
        }
    }

    pub(super) fn wild(&mut self, w: &Wild) -> V {
        match w {
            Wild::Int(i) => V::Int(*i),
            Wild::Float(f) => V::Float(*f),
            Wild::Big(n) => V::Raw("9".repeat(usize::from(*n))),
            Wild::Str(t) => V::Str(t.render()),
            Wild::Bool(b) => V::Bool(*b),
            Wild::Null => V::Null,
            Wild::Enum(p) => V::Enum(match p % 4 {
                0 => "NOPE".to_owned(),
                _ => self.m.name(*p).to_owned(),
            }),
            Wild::List(items) => V::List(items.iter().map(|i| self.wild(i)).collect()),
            Wild::Object(fields) => V::Obj(
                fields
                    .iter()
                    .map(|(k, v)| (self.m.name(*k).to_owned(), self.wild(v)))
                    .collect(),
            ),
            Wild::Var(n) => V::Var(format!("v{}", n % 6)),
            Wild::Id(id) => V::Str(self.id(id, None)),
            Wild::Cursor(c) => V::Str(self.cursor(c)),
        }
    }

    pub(super) fn arg(&mut self, val: &ArgVal, ty: Option<&Type>, hint: Hint) -> V {
        let string = Type::new("String").expect("type");
        let ty = ty.unwrap_or(&string);
        let clean = self.clean;
        let typed = |this: &Self, t: &Typed| {
            let mut tape = Tape {
                bytes: &t.tape,
                at: 0,
            };
            this.typed(t, ty, hint, &mut tape, 0)
        };
        match val {
            ArgVal::Typed(t) => typed(self, t),
            ArgVal::Wild(_) if clean => typed(self, &Typed::default()),
            ArgVal::Wild(w) => self.wild(w),
            ArgVal::Var {
                decl,
                value,
                default,
            } => {
                let name = format!("v{}", self.defs.len());
                let declared = match decl {
                    Some(i) if !clean => VAR_TYPES[usize::from(*i) % VAR_TYPES.len()].to_owned(),
                    _ => ty.to_string(),
                };
                let mut def = format!("${name}: {declared}");
                if let Some(d) = default.as_ref().filter(|_| !clean) {
                    def.push_str(" = ");
                    self.wild(d).gql(&mut def);
                }
                self.defs.push(def);
                let json = match value {
                    Some(VarValue::Typed(t)) => Some(typed(self, t).json()),
                    Some(VarValue::Json(_)) | None if clean => {
                        Some(typed(self, &Typed::default()).json())
                    }
                    Some(VarValue::Json(j)) => Some(j.clone()),
                    None => None,
                };
                if let Some(j) = json {
                    self.vars.insert(name.clone(), j);
                }
                V::Var(name)
            }
        }
    }
}
