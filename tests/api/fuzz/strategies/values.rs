//! Values: text, integers, IDs, cursors, values of an argument's own type or of any type,
//! and any JSON.
use proptest::prelude::*;
use serde_json::Value;

/// A piece of text.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    /// Handle-like: `[a-z0-9_.]{0,32}`.
    Handle(String),
    Any(String),
    Special(u8),
    Repeat(char, u16),
}

const SPECIAL_TEXT: &[&str] = &[
    "",
    " ",
    "\0",
    "a\0b",
    "fz_alice\0",
    "\u{feff}",
    "\u{202e}abc",
    "💥",
    "'; DROP TABLE users; --",
    "%s%n%x",
    "\\",
    "\"",
    "\r\n",
    "null",
    "NaN",
    "fz_alice",
    "FZ_BOB",
    "a..b",
    "__typename",
    "{",
    "$v",
    "\u{10ffff}",
    "\u{7f}",
    "\u{1}\u{2}\u{3}",
    "a\u{300}\u{301}\u{302}",
    "ǅ",
    "İ",
];

impl Text {
    pub(crate) fn render(&self) -> String {
        match self {
            Text::Handle(s) | Text::Any(s) => s.clone(),
            Text::Special(i) => SPECIAL_TEXT[usize::from(*i) % SPECIAL_TEXT.len()].to_owned(),
            Text::Repeat(c, n) => std::iter::repeat_n(*c, usize::from(*n)).collect(),
        }
    }
}

pub(super) fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        3 => "[a-z0-9_.]{0,32}".prop_map(Text::Handle),
        3 => any::<String>().prop_map(Text::Any),
        2 => any::<u8>().prop_map(Text::Special),
        1 => (any::<char>(), 0u16..3000).prop_map(|(c, n)| Text::Repeat(c, n)),
    ]
}

pub(super) fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => -3i64..=120,
        2 => prop::sample::select(vec![
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
            1899,
            1900,
            2100,
            99,
            100,
            101,
            9_007_199_254_740_993,
        ]),
        1 => any::<i64>(),
    ]
}

/// An ID argument.
#[derive(Debug, Clone)]
pub(crate) enum IdSpec {
    /// A real ID of the kind the argument wants.
    Matching(u8),
    Real {
        video: bool,
        pick: u8,
    },
    Flipped {
        video: bool,
        pick: u8,
        bit: u16,
    },
    Cut {
        video: bool,
        pick: u8,
        keep: u8,
    },
    Junk {
        video: bool,
        pick: u8,
        junk: Text,
    },
    Recoded {
        video: bool,
        pick: u8,
        how: u8,
    },
    /// Well-formed, of a row that does not exist.
    Fresh {
        video: bool,
        uuid: u128,
    },
    /// base64url(tag ‖ bytes): a kind byte (valid or not) and any number of bytes.
    Kinded {
        tag: u8,
        bytes: Vec<u8>,
    },
    B64(Vec<u8>),
    Text(Text),
}

fn tag() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(vec![b'U', b'V']),
        1 => any::<u8>(),
    ]
}

pub(super) fn id_spec() -> impl Strategy<Value = IdSpec> {
    prop_oneof![
        6 => any::<u8>().prop_map(IdSpec::Matching),
        2 => (any::<bool>(), any::<u8>()).prop_map(|(video, pick)| IdSpec::Real { video, pick }),
        2 => (any::<bool>(), any::<u8>(), any::<u16>())
            .prop_map(|(video, pick, bit)| IdSpec::Flipped { video, pick, bit }),
        1 => (any::<bool>(), any::<u8>(), any::<u8>())
            .prop_map(|(video, pick, keep)| IdSpec::Cut { video, pick, keep }),
        1 => (any::<bool>(), any::<u8>(), text())
            .prop_map(|(video, pick, junk)| IdSpec::Junk { video, pick, junk }),
        1 => (any::<bool>(), any::<u8>(), any::<u8>())
            .prop_map(|(video, pick, how)| IdSpec::Recoded { video, pick, how }),
        2 => (any::<bool>(), any::<u128>()).prop_map(|(video, uuid)| IdSpec::Fresh { video, uuid }),
        2 => (tag(), prop_oneof![prop::collection::vec(any::<u8>(), 16), prop::collection::vec(any::<u8>(), 0..40)])
            .prop_map(|(tag, bytes)| IdSpec::Kinded { tag, bytes }),
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(IdSpec::B64),
        1 => text().prop_map(IdSpec::Text),
    ]
}

/// An `after` argument.
#[derive(Debug, Clone)]
pub(crate) enum CursorSpec {
    Real(u8),
    Flipped(u8, u16),
    Cut(u8, u8),
    Junk(u8, Text),
    Recoded(u8, u8),
    /// base64url(kind ‖ bytes): 36 bytes is a well-formed cursor with a forged tag.
    Kinded {
        kind: u8,
        bytes: Vec<u8>,
    },
    B64(Vec<u8>),
    Text(Text),
    Id(IdSpec),
}

pub(super) fn cursor_spec() -> impl Strategy<Value = CursorSpec> {
    prop_oneof![
        4 => any::<u8>().prop_map(CursorSpec::Real),
        3 => (any::<u8>(), any::<u16>()).prop_map(|(p, b)| CursorSpec::Flipped(p, b)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(p, k)| CursorSpec::Cut(p, k)),
        1 => (any::<u8>(), text()).prop_map(|(p, t)| CursorSpec::Junk(p, t)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(p, h)| CursorSpec::Recoded(p, h)),
        2 => (0u8..6, prop_oneof![prop::collection::vec(any::<u8>(), 36), prop::collection::vec(any::<u8>(), 0..60)])
            .prop_map(|(kind, bytes)| CursorSpec::Kinded { kind, bytes }),
        1 => prop::collection::vec(any::<u8>(), 0..60).prop_map(CursorSpec::B64),
        1 => text().prop_map(CursorSpec::Text),
        1 => id_spec().prop_map(CursorSpec::Id),
    ]
}

/// A value of the argument's own type, drawn from these.
#[derive(Debug, Clone)]
pub(crate) struct Typed {
    pub(crate) int: i64,
    pub(crate) text: Text,
    pub(crate) id: IdSpec,
    pub(crate) cursor: CursorSpec,
    /// Choices (list lengths, enum values, optional fields, nulls).
    pub(crate) tape: Vec<u8>,
}

impl Default for Typed {
    fn default() -> Self {
        Typed {
            int: 1,
            text: Text::Handle("fz_alice".into()),
            id: IdSpec::Matching(0),
            cursor: CursorSpec::Real(0),
            tape: vec![1],
        }
    }
}

pub(super) fn typed() -> impl Strategy<Value = Typed> {
    (
        int(),
        text(),
        id_spec(),
        cursor_spec(),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(int, text, id, cursor, tape)| Typed {
            int,
            text,
            id,
            cursor,
            tape,
        })
}

/// A value of any type.
#[derive(Debug, Clone)]
pub(crate) enum Wild {
    Int(i64),
    Float(f64),
    /// An integer literal of many digits.
    Big(u16),
    Str(Text),
    Bool(bool),
    Null,
    Enum(u16),
    List(Vec<Wild>),
    Object(Vec<(u16, Wild)>),
    Var(u8),
    Id(IdSpec),
    Cursor(CursorSpec),
}

pub(super) fn wild() -> impl Strategy<Value = Wild> {
    let leaf = prop_oneof![
        int().prop_map(Wild::Int),
        any::<f64>().prop_map(Wild::Float),
        (1u16..400).prop_map(Wild::Big),
        text().prop_map(Wild::Str),
        any::<bool>().prop_map(Wild::Bool),
        Just(Wild::Null),
        any::<u16>().prop_map(Wild::Enum),
        any::<u8>().prop_map(Wild::Var),
        id_spec().prop_map(Wild::Id),
        cursor_spec().prop_map(Wild::Cursor),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Wild::List),
            prop::collection::vec((any::<u16>(), inner), 0..4).prop_map(Wild::Object),
        ]
    })
}

/// Any JSON value.
pub(super) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        int().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(|t| Value::String(t.render())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(vec!["query", "variables", "operationName", "extensions", "input", "id", "first", "after", "handle", "v0", "v1", "d0", "__proto__", ""]).prop_map(str::to_owned),
            1 => any::<String>(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
