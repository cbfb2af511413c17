//! The schema, from `schema.graphql` (plus the introspection types it does not spell out):
//! the types, fields, arguments and names structured documents are drawn from.
use std::collections::BTreeMap;

use async_graphql::{
    parser::{
        parse_schema,
        types::{BaseType, FieldDefinition, Type, TypeKind, TypeSystemDefinition},
    },
    Positioned,
};

const INTROSPECTION_SDL: &str = "
type Query { __schema: __Schema! __type(name: String!): __Type }
type __Schema { types: [__Type!]! queryType: __Type! mutationType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String fields(includeDeprecated: Boolean = false): [__Field!]
  interfaces: [__Type!] possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
  inputFields: [__InputValue!] ofType: __Type }
type __Field { name: String! args: [__InputValue!]! type: __Type! isDeprecated: Boolean! }
type __InputValue { name: String! type: __Type! defaultValue: String }
type __EnumValue { name: String! isDeprecated: Boolean! }
type __Directive { name: String! locations: [__DirectiveLocation!]! args: [__InputValue!]! }
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
enum __DirectiveLocation { QUERY MUTATION FIELD }
";

pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) args: Vec<(String, Type)>,
    pub(crate) ty: Type,
}

/// The types of the schema: what structured documents are drawn from.
#[derive(Default)]
pub(crate) struct Model {
    /// Object and interface types with their fields (`Query`, `Mutation` among them).
    objects: BTreeMap<String, Vec<Field>>,
    pub(crate) inputs: BTreeMap<String, Vec<(String, Type)>>,
    pub(crate) enums: BTreeMap<String, Vec<String>>,
    /// Every type name, scalars included.
    types: Vec<String>,
    /// Every field, argument and input field name, and every enum value.
    pub(crate) names: Vec<String>,
}

fn fields(fs: Vec<Positioned<FieldDefinition>>) -> Vec<Field> {
    fs.into_iter()
        .map(|f| {
            let f = f.node;
            Field {
                name: f.name.node.to_string(),
                args: f
                    .arguments
                    .into_iter()
                    .map(|a| (a.node.name.node.to_string(), a.node.ty.node))
                    .collect(),
                ty: f.ty.node,
            }
        })
        .collect()
}

pub(crate) fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// Mutations the fuzzer never sends: taking no argument it could get wrong, they end the
/// fixture accounts' sessions, after which the oracle's valid tokens would be refused.
/// (`endSession` needs a session ID and `changePassword` the password, which the fuzzer
/// never has.) `tests/api/sessions.rs` tests them.
const ENDS_SESSIONS: [&str; 2] = ["logOut", "logOutEverywhere"];

impl Model {
    pub(crate) fn load() -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let sdl = std::fs::read_to_string(path).expect("read schema.graphql");
        let mut m = Model::default();
        for text in [sdl.as_str(), INTROSPECTION_SDL] {
            let doc = parse_schema(text).expect("parse the schema");
            for def in doc.definitions {
                let TypeSystemDefinition::Type(t) = def else {
                    continue;
                };
                let t = t.node;
                let name = t.name.node.to_string();
                m.types.push(name.clone());
                match t.kind {
                    TypeKind::Object(o) => {
                        let mut fs = fields(o.fields);
                        if name == "Mutation" {
                            fs.retain(|f| !ENDS_SESSIONS.contains(&f.name.as_str()));
                        }
                        m.objects.entry(name).or_default().extend(fs)
                    }
                    TypeKind::Interface(i) => {
                        m.objects.entry(name).or_default().extend(fields(i.fields))
                    }
                    TypeKind::InputObject(i) => {
                        let fs = i
                            .fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect();
                        m.inputs.insert(name, fs);
                    }
                    TypeKind::Enum(e) => {
                        let vs = e
                            .values
                            .into_iter()
                            .map(|v| v.node.value.node.to_string())
                            .collect();
                        m.enums.insert(name, vs);
                    }
                    _ => {}
                }
            }
        }
        let mut names: Vec<String> = Vec::new();
        for fields in m.objects.values() {
            for f in fields {
                names.push(f.name.clone());
                names.extend(f.args.iter().map(|(a, _)| a.clone()));
            }
        }
        for fields in m.inputs.values() {
            names.extend(fields.iter().map(|(f, _)| f.clone()));
        }
        for values in m.enums.values() {
            names.extend(values.iter().cloned());
        }
        names.sort();
        names.dedup();
        m.names = names;
        m.types.sort();
        m.types.dedup();
        for root in ["Query", "Mutation", "User", "Video", "LikerConnection"] {
            assert!(m.objects.contains_key(root), "schema.graphql lacks {root}");
        }
        m
    }

    pub(crate) fn fields(&self, ty: &str) -> Option<&[Field]> {
        self.objects.get(ty).map(Vec::as_slice)
    }

    pub(crate) fn name(&self, pick: u16) -> &str {
        &self.names[usize::from(pick) % self.names.len()]
    }

    pub(crate) fn type_name(&self, pick: u16) -> &str {
        &self.types[usize::from(pick) % self.types.len()]
    }
}
