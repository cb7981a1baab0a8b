//! The answers operations share, stated once in the OpenAPI document. Each comes from an
//! extractor or a layer every request of a kind passes through (a JSON body, a query, a path id,
//! the bearer token, the engine), so [`SharedResponses`] adds it to every operation of that kind;
//! annotations list only what their handler decides itself (403, 404 of a missing resource, 409).

use utoipa::Modify;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Object, OpenApi, Ref, RefOr, Type};

const PROBLEM: &str = "application/problem+json";

fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
}

fn header(kind: Type, description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new().schema(Some(Object::with_type(kind))).description(Some(description)).build()
}

/// The shared responses, by component name, and the operations each applies to.
struct Shared {
    status: &'static str,
    name: &'static str,
    applies: fn(&Shape) -> bool,
    response: fn() -> Response,
}

/// What an operation takes, as far as the shared answers depend on it.
struct Shape {
    body: bool,
    query: bool,
    path: bool,
    secured: bool,
}

const SHARED: &[Shared] = &[
    Shared {
        status: "400",
        name: "Invalid",
        applies: |s| s.body || s.query,
        response: || {
            problem(
                "The body is not valid JSON, or a field or query parameter is invalid; a validation problem lists \
                 each field under `errors`",
            )
            .build()
        },
    },
    Shared {
        status: "401",
        name: "Unauthenticated",
        applies: |s| s.secured,
        response: || {
            problem("No bearer token, or an invalid or expired one")
                .header("WWW-Authenticate", header(Type::String, "`Bearer`"))
                .build()
        },
    },
    Shared {
        status: "404",
        name: "NotFound",
        applies: |s| s.path,
        response: || problem("Nothing with this id (a malformed id included)").build(),
    },
    Shared {
        status: "413",
        name: "TooLarge",
        applies: |s| s.body,
        response: || problem("The body is larger than 64 KiB").build(),
    },
    Shared {
        status: "415",
        name: "NotJson",
        applies: |s| s.body,
        response: || problem("The body is not sent as `application/json`").build(),
    },
    Shared {
        status: "503",
        name: "Unavailable",
        applies: |_| true,
        response: || problem("The storage cannot be reached; safe to retry").build(),
    },
];

/// Adds the shared responses to every operation they apply to, keeping an operation's own
/// description of a status when it has one.
pub struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shared in SHARED {
            components.responses.insert(shared.name.to_owned(), (shared.response)().into());
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                add_shared(operation);
            }
        }
    }
}

fn add_shared(operation: &mut Operation) {
    let takes = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
    };
    let shape = Shape {
        body: operation.request_body.is_some(),
        query: takes(ParameterIn::Query),
        path: takes(ParameterIn::Path),
        secured: operation.security.as_ref().is_some_and(|s| !s.is_empty()),
    };
    for shared in SHARED.iter().filter(|s| (s.applies)(&shape)) {
        operation
            .responses
            .responses
            .entry(shared.status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
    }
}
