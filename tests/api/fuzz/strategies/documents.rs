//! GraphQL documents: drawn from the schema (selections, arguments, variables, directives,
//! fragments, operations), random text, token soup, and one construct nested or repeated;
//! and the JSON object of an operation around them.
use std::fmt::Write as _;

use proptest::prelude::*;
use serde_json::Value;

use super::{json_value, text, typed, wild, Text, Typed, Wild};

/// An argument's value.
#[derive(Debug, Clone)]
pub(crate) enum ArgVal {
    Typed(Typed),
    Wild(Wild),
    /// A variable: declared with the argument's type (`decl: None`) or another, given a
    /// value of the argument's type, any JSON, or none; maybe with a default.
    Var {
        decl: Option<u8>,
        value: Option<VarValue>,
        default: Option<Wild>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum VarValue {
    Typed(Typed),
    Json(Value),
}

fn arg_val() -> impl Strategy<Value = ArgVal> {
    let var_value = prop_oneof![
        5 => typed().prop_map(VarValue::Typed),
        1 => json_value().prop_map(VarValue::Json),
    ];
    prop_oneof![
        8 => typed().prop_map(ArgVal::Typed),
        1 => wild().prop_map(ArgVal::Wild),
        3 => (
            prop::option::weighted(0.1, any::<u8>()),
            prop::option::weighted(0.9, var_value),
            prop::option::weighted(0.1, wild()),
        )
            .prop_map(|(decl, value, default)| ArgVal::Var { decl, value, default }),
    ]
}

/// Variable types other than the argument's own.
pub(crate) const VAR_TYPES: &[&str] = &[
    "Int",
    "Int!",
    "String",
    "String!",
    "ID!",
    "[ID!]!",
    "Boolean",
    "Float",
    "SignUpInput!",
    "LikesVisibility",
    "User",
    "Nope",
    "[[Int]]",
];

/// A directive on a field, spread or fragment.
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    pub(crate) name: u8,
    pub(crate) arg: DirArg,
}

#[derive(Debug, Clone)]
pub(crate) enum DirArg {
    None,
    Bool(bool),
    /// `if: $dN`, declared `Boolean!` and given this value.
    Var(bool),
    Wild(Wild),
}

pub(crate) const DIRECTIVES: &[&str] = &[
    "include",
    "skip",
    "include",
    "skip",
    "deprecated",
    "specifiedBy",
    "oneOf",
    "defer",
    "stream",
    "nope",
];

fn dirs() -> impl Strategy<Value = Vec<Dir>> {
    let arg = prop_oneof![
        4 => any::<bool>().prop_map(DirArg::Bool),
        2 => any::<bool>().prop_map(DirArg::Var),
        1 => Just(DirArg::None),
        1 => wild().prop_map(DirArg::Wild),
    ];
    // `@include` / `@skip` with a Boolean, mostly; now and then anything.
    let plain = (
        0u8..4,
        prop_oneof![
            3 => any::<bool>().prop_map(DirArg::Bool),
            1 => any::<bool>().prop_map(DirArg::Var),
        ],
    )
        .prop_map(|(name, arg)| Dir { name, arg });
    let chaos = (any::<u8>(), arg).prop_map(|(name, arg)| Dir { name, arg });
    prop_oneof![
        14 => Just(Vec::new()),
        3 => plain.prop_map(|d| vec![d]),
        1 => prop::collection::vec(chaos, 1..7),
    ]
}

/// A selection.
#[derive(Debug, Clone)]
pub(crate) enum Sel {
    /// A field of the type (`own`) or any name of the schema. `strict` fields take their
    /// own arguments (the `args` values in order, required ones filled in) and get a
    /// selection exactly when their type needs one, so that they reach the resolvers.
    Field {
        strict: bool,
        own: bool,
        pick: u16,
        alias: Option<u8>,
        args: Vec<(u16, ArgVal)>,
        dirs: Vec<Dir>,
        sub: Vec<Sel>,
    },
    Typename {
        alias: Option<u8>,
    },
    Spread {
        frag: u8,
        dirs: Vec<Dir>,
    },
    Inline {
        on: Option<u16>,
        dirs: Vec<Dir>,
        sub: Vec<Sel>,
    },
}

fn field(sub: BoxedStrategy<Vec<Sel>>) -> impl Strategy<Value = Sel> {
    (
        prop::bool::weighted(0.92),
        prop::bool::weighted(0.97),
        any::<u16>(),
        prop::option::weighted(0.15, any::<u8>()),
        prop::collection::vec((any::<u16>(), arg_val()), 0..4),
        dirs(),
        sub,
    )
        .prop_map(|(strict, own, pick, alias, args, dirs, sub)| Sel::Field {
            strict,
            own,
            pick,
            alias,
            args,
            dirs,
            sub,
        })
}

fn selections() -> impl Strategy<Value = Vec<Sel>> {
    let leaf = prop_oneof![
        6 => field(Just(Vec::new()).boxed()),
        1 => prop::option::weighted(0.3, any::<u8>()).prop_map(|alias| Sel::Typename { alias }),
        1 => (any::<u8>(), dirs()).prop_map(|(frag, dirs)| Sel::Spread { frag, dirs }),
    ];
    let sel = leaf.prop_recursive(5, 40, 4, |inner| {
        let subs = prop::collection::vec(inner, 0..4).boxed();
        prop_oneof![
            5 => field(subs.clone()),
            1 => (prop::option::weighted(0.3, any::<u16>()), dirs(), subs)
                .prop_map(|(on, dirs, sub)| Sel::Inline { on, dirs, sub }),
        ]
    });
    prop::collection::vec(sel, 1..4)
}

#[derive(Debug, Clone)]
pub(crate) struct Frag {
    pub(crate) on: Option<u16>,
    pub(crate) dirs: Vec<Dir>,
    pub(crate) sels: Vec<Sel>,
}

/// A document drawn from the schema, with its variables and operation name.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    /// Whether anything goes. A clean document (`false`) is drawn as valid as the renderer
    /// can make it, so that it reaches the resolvers: fields of their type with their own
    /// arguments (values of the right type, if any value), `@include`/`@skip` only,
    /// fragments spread only where their type is, one operation.
    pub(crate) chaos: bool,
    /// 0 shorthand `{…}`, 1 `query`, 2 `mutation`, 3 `subscription`.
    pub(crate) kind: u8,
    pub(crate) name: Option<u8>,
    pub(crate) sels: Vec<Sel>,
    pub(crate) frags: Vec<Frag>,
    pub(crate) other: Option<(u8, Vec<Sel>)>,
    /// `operationName`: 0 absent, 1 this operation's, 2 the other's, 3 unknown, 4 null, 5 a number.
    pub(crate) op_name: u8,
    /// Variables no operation declares.
    pub(crate) stray_vars: Vec<(String, Value)>,
    /// `variables`: 0 an object, 1 absent, 2 null, 3 a string, 4 an array.
    pub(crate) vars_shape: u8,
}

fn doc() -> impl Strategy<Value = Doc> {
    let frag = (
        prop::option::weighted(0.9, any::<u16>()),
        dirs(),
        selections(),
    )
        .prop_map(|(on, dirs, sels)| Frag { on, dirs, sels });
    (
        any::<bool>(),
        prop_oneof![6 => Just(0u8), 6 => Just(1u8), 6 => Just(2u8), 1 => Just(3u8)],
        prop::option::weighted(0.5, any::<u8>()),
        selections(),
        prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec(frag, 1..3)],
        prop::option::weighted(0.05, (0u8..3, selections())),
        prop_oneof![6 => Just(0u8), 3 => Just(1u8), 1 => 2u8..6],
        prop_oneof![
            6 => Just(Vec::new()),
            1 => prop::collection::vec(("[a-z0-9]{1,3}", json_value()), 1..3),
        ],
        prop_oneof![12 => Just(0u8), 2 => Just(1u8), 1 => 2u8..5],
    )
        .prop_map(
            |(chaos, kind, name, sels, frags, other, op_name, stray_vars, vars_shape)| Doc {
                chaos,
                kind,
                name,
                sels,
                frags,
                other,
                op_name,
                stray_vars,
                vars_shape,
            },
        )
}

/// The `query` of an operation.
#[derive(Debug, Clone)]
pub(crate) enum QuerySpec {
    Doc(Doc),
    Text(Text),
    /// GraphQL tokens in random order.
    Soup(Vec<u16>),
    /// One construct nested or repeated `n` times (see [`deep`]).
    Deep {
        how: u8,
        n: u32,
    },
}

pub(crate) const SOUP: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "@",
    "...",
    "=",
    "!",
    "|",
    "&",
    ",",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "true",
    "false",
    "null",
    "0",
    "-1",
    "1e999",
    "99999999999999999999",
    "1.5",
    "-0",
    "0x10",
    "\"\"",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "\"\"\"block\"\"\"",
    "\"unterminated",
    "#comment\n",
    "\u{feff}",
    "\n",
    "__typename",
    "__schema",
    "__type",
    "feed",
    "viewer",
    "node",
    "video",
    "user",
    "edges",
    "id",
    "likeVideo",
    "signUp",
    "input",
    "first",
    "after",
    "$v0",
    "@include",
    "@skip",
    "if",
];

pub(super) fn depth() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => prop::sample::select(vec![1u32, 2, 4, 11, 12, 13, 23, 24, 25, 30, 31, 63, 64, 65, 127, 128, 129, 256, 1000, 2001]),
        3 => 1u32..400,
        2 => prop::sample::select(vec![5_000u32, 20_000, 60_000, 120_000]),
    ]
}

/// `query` text nesting or repeating one construct `n` times.
pub(crate) fn deep(how: u8, n: u32) -> String {
    let n = n as usize;
    let mut q = String::new();
    match how % 11 {
        0 => {
            // feed → edges → node → author → videos → edges → node → author → …
            let path = ["edges", "node", "author", "videos(first: 1)"];
            q.push_str("{ feed(first: 1)");
            for i in 1..n {
                q.push_str(" { ");
                q.push_str(path[(i - 1) % path.len()]);
            }
            q.push_str(" { __typename");
            q.push_str(&" }".repeat(n));
            q.push_str(" }");
        }
        1 => {
            q.push_str("{ ");
            q.push_str(&"... on Query { ".repeat(n));
            q.push_str("__typename ");
            q.push_str(&"} ".repeat(n));
            q.push('}');
        }
        2 => {
            q.push_str("{ feed(first: ");
            q.push_str(&"[".repeat(n));
            q.push('1');
            q.push_str(&"]".repeat(n));
            q.push_str(") { __typename } }");
        }
        3 => {
            q.push_str("{ user(handle: ");
            q.push_str(&"{a: ".repeat(n));
            q.push('1');
            q.push_str(&"}".repeat(n));
            q.push_str(") { id } }");
        }
        4 => q.push_str(&"{".repeat(n)),
        5 => {
            q.push_str("{ ...F0 }");
            for i in 0..n {
                let _ = write!(q, " fragment F{i} on Query {{ ...F{} }}", i + 1);
            }
            let _ = write!(q, " fragment F{n} on Query {{ __typename }}");
        }
        6 => {
            q.push_str("{ ");
            for i in 0..n {
                let _ = write!(q, "a{i}: __typename ");
            }
            q.push('}');
        }
        7 => {
            q.push_str("{ __typename ");
            q.push_str(&"@skip(if: false) ".repeat(n));
            q.push('}');
        }
        8 => {
            q.push_str("{ ");
            q.push_str(&"__typename ".repeat(n));
            q.push('}');
        }
        9 => {
            q.push_str("query($v: ");
            q.push_str(&"[".repeat(n));
            q.push_str("Int");
            q.push_str(&"]".repeat(n));
            q.push_str(") { __typename }");
        }
        _ => {
            q.push_str("{ feed");
            q.push_str(&"(".repeat(n));
        }
    }
    q
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    prop_oneof![
        10 => doc().prop_map(QuerySpec::Doc),
        1 => text().prop_map(QuerySpec::Text),
        2 => prop::collection::vec(any::<u16>(), 0..40).prop_map(QuerySpec::Soup),
        2 => (any::<u8>(), depth()).prop_map(|(how, n)| QuerySpec::Deep { how, n }),
    ]
}

/// One operation's JSON object.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) query: QuerySpec,
    /// 0 as rendered; 1 `query` replaced by this JSON; 2 `extensions` added; 3 no `query`.
    pub(crate) envelope: u8,
    pub(crate) odd: Value,
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    (
        query_spec(),
        prop_oneof![20 => Just(0u8), 1 => 1u8..4],
        json_value(),
    )
        .prop_map(|(query, envelope, odd)| Op {
            query,
            envelope,
            odd,
        })
}
