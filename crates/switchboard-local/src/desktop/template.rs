//! The desktop distribution as template.yaml declares it, read the way CloudFront would apply it:
//! its behaviours in order (path pattern, origin, allowed methods, CloudFront Function) and each
//! behaviour's response headers policy turned into the headers CloudFront adds, with the stack's
//! `${ConnectInstanceUrl}` and `${CognitoDomainUrl}` replaced by the local origins.
//!
//! The shape read is the contract between the template and the local cloud: three
//! `AWS::CloudFront::ResponseHeadersPolicy` resources referenced by `DesktopDistribution`'s
//! behaviours, the `/api/*` behaviour on a custom origin with the CloudFront Function whose code is
//! `desktop/cloudfront/strip-api.js`. Anything outside it (another `${…}` name, a Lambda@Edge
//! association, a CORS config) is an error naming the resource, not something silently skipped:
//! the stand-in must not serve headers the distribution would not.

use serde_yaml::{Mapping, Value};

use crate::instance::{describe, intrinsic};

/// The distribution's logical id in template.yaml.
pub const DISTRIBUTION: &str = "DesktopDistribution";

/// What the local cloud puts where the stack has its own origins.
#[derive(Debug, Clone)]
pub struct LocalOrigins {
    /// `${ConnectInstanceUrl}`: the Connect instance's origin; locally the fake CCP's.
    pub connect_instance_url: String,
    /// `${CognitoDomainUrl}`: the user pool domain's origin; locally the emulator's.
    pub cognito_domain_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template.yaml: {0}")]
    Invalid(String),
}

fn invalid(what: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(what.into())
}

/// One header a response headers policy adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHeader {
    pub name: String,
    pub value: String,
    /// `Override: true`: the policy's value replaces the origin's; otherwise it is added only when
    /// the origin's response has none.
    pub override_origin: bool,
}

/// A response headers policy, as the headers it sets and removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeaders {
    /// The policy's logical id.
    pub policy: String,
    pub set: Vec<PolicyHeader>,
    pub remove: Vec<String>,
}

impl ResponseHeaders {
    /// The value the policy sets for `name` (case-insensitive), if any.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.set.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    /// The private bucket (an S3 origin, through the Origin Access Control).
    Bucket,
    /// The agent HTTP API (a custom origin).
    Api,
}

#[derive(Debug, Clone)]
pub struct Behavior {
    /// `None` for the default behaviour.
    pub path_pattern: Option<String>,
    pub origin: OriginKind,
    pub allowed_methods: Vec<String>,
    pub headers: Option<ResponseHeaders>,
    /// The viewer-request CloudFront Function is `desktop/cloudfront/strip-api.js`.
    pub strips_api_prefix: bool,
}

impl Behavior {
    pub fn allows(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

#[derive(Debug, Clone)]
pub struct Distribution {
    pub default_root_object: Option<String>,
    /// The cache behaviours in the template's order (CloudFront takes the first match).
    pub behaviors: Vec<Behavior>,
    pub default_behavior: Behavior,
}

impl Distribution {
    /// Reads `DesktopDistribution` from the template's text. `strip_api_js` is the source of
    /// `desktop/cloudfront/strip-api.js`, the only CloudFront Function the stand-in can run.
    pub fn from_template(template: &str, origins: &LocalOrigins, strip_api_js: &str) -> Result<Self, TemplateError> {
        let template: Value = serde_yaml::from_str(template)?;
        let resources = template.get("Resources").ok_or_else(|| invalid("no Resources"))?;
        let reader = Reader { resources, origins, strip_api_js };
        let distribution = reader.resource(DISTRIBUTION, "AWS::CloudFront::Distribution")?;
        let config = field(distribution, "DistributionConfig", DISTRIBUTION)?;
        let origin_list = sequence(config, "Origins", DISTRIBUTION)?;
        let default_behavior =
            reader.behavior(field(config, "DefaultCacheBehavior", DISTRIBUTION)?, origin_list, None)?;
        let behaviors = match config.get("CacheBehaviors") {
            None => Vec::new(),
            Some(list) => list
                .as_sequence()
                .ok_or_else(|| invalid(format!("{DISTRIBUTION}: CacheBehaviors must be a list")))?
                .iter()
                .map(|behavior| {
                    let pattern = reader.string(field(behavior, "PathPattern", DISTRIBUTION)?, DISTRIBUTION)?;
                    reader.behavior(behavior, origin_list, Some(pattern))
                })
                .collect::<Result<_, _>>()?,
        };
        let default_root_object = match config.get("DefaultRootObject") {
            Some(value) => Some(reader.string(value, DISTRIBUTION)?).filter(|o| !o.is_empty()),
            None => None,
        };
        Ok(Self { default_root_object, behaviors, default_behavior })
    }

    /// The behaviour CloudFront applies to a request for `path`: the first whose pattern matches,
    /// else the default.
    pub fn behavior_for(&self, path: &str) -> &Behavior {
        self.behaviors
            .iter()
            .find(|b| b.path_pattern.as_deref().is_some_and(|p| path_pattern_matches(p, path)))
            .unwrap_or(&self.default_behavior)
    }
}

struct Reader<'a> {
    resources: &'a Value,
    origins: &'a LocalOrigins,
    strip_api_js: &'a str,
}

impl Reader<'_> {
    fn resource(&self, logical_id: &str, kind: &str) -> Result<&Value, TemplateError> {
        let resource = self.resources.get(logical_id).ok_or_else(|| invalid(format!("no resource {logical_id}")))?;
        let actual = resource.get("Type").and_then(Value::as_str).unwrap_or_default();
        if actual != kind {
            return Err(invalid(format!("{logical_id} is a {actual:?}, not a {kind}")));
        }
        field(resource, "Properties", logical_id)
    }

    /// A string property: plain, or `!Sub` / `Fn::Sub` with the local origins substituted. (Tags
    /// are looked at first: serde_yaml's accessors see through them, `!Ref X` would read as "X".)
    fn string(&self, value: &Value, context: &str) -> Result<String, TemplateError> {
        let sub = match (intrinsic(value, "Sub"), value) {
            (Some(sub), _) => sub,
            (None, Value::String(text)) => return Ok(text.clone()),
            (None, other) => {
                return Err(invalid(format!("{context}: expected a string or !Sub, found {}", describe(other))))
            }
        };
        // `!Sub [text, {variables}]`: the variables are the stack's; the local values replace them.
        let text = match sub {
            Value::String(text) => text.as_str(),
            Value::Sequence(parts) => parts
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{context}: !Sub list without its text")))?,
            other => return Err(invalid(format!("{context}: !Sub of {}", describe(other)))),
        };
        substitute(text, self.origins).map_err(|name| {
            invalid(format!(
                "{context}: ${{{name}}} is not one of the names the desktop contract allows \
                 (ConnectInstanceUrl, CognitoDomainUrl)"
            ))
        })
    }

    fn behavior(
        &self,
        behavior: &Value,
        origins: &[Value],
        path_pattern: Option<String>,
    ) -> Result<Behavior, TemplateError> {
        let context = format!("{DISTRIBUTION} behaviour {}", path_pattern.as_deref().unwrap_or("(default)"));
        let origin_id = self.string(field(behavior, "TargetOriginId", &context)?, &context)?;
        let origin = origins
            .iter()
            .find(|o| o.get("Id").and_then(Value::as_str) == Some(origin_id.as_str()))
            .ok_or_else(|| invalid(format!("{context}: no origin {origin_id}")))?;
        let origin = if origin.get("CustomOriginConfig").is_some() {
            OriginKind::Api
        } else if origin.get("S3OriginConfig").is_some() || origin.get("OriginAccessControlId").is_some() {
            OriginKind::Bucket
        } else {
            return Err(invalid(format!("origin {origin_id} is neither an S3 nor a custom origin")));
        };
        let allowed_methods = match behavior.get("AllowedMethods") {
            // CloudFront's default.
            None => vec!["GET".to_owned(), "HEAD".to_owned()],
            Some(list) => list
                .as_sequence()
                .ok_or_else(|| invalid(format!("{context}: AllowedMethods must be a list")))?
                .iter()
                .map(|m| self.string(m, &context))
                .collect::<Result<_, _>>()?,
        };
        let headers = match behavior.get("ResponseHeadersPolicyId") {
            None => None,
            Some(id) => {
                let policy = intrinsic(id, "Ref").and_then(Value::as_str).ok_or_else(|| {
                    invalid(format!("{context}: ResponseHeadersPolicyId must be !Ref to a policy of the template"))
                })?;
                Some(self.policy(policy)?)
            }
        };
        if behavior.get("LambdaFunctionAssociations").and_then(Value::as_sequence).is_some_and(|l| !l.is_empty()) {
            return Err(invalid(format!("{context}: Lambda@Edge associations are not served locally")));
        }
        let mut strips_api_prefix = false;
        for association in behavior.get("FunctionAssociations").and_then(Value::as_sequence).into_iter().flatten() {
            let event = self.string(field(association, "EventType", &context)?, &context)?;
            let function = intrinsic(field(association, "FunctionARN", &context)?, "GetAtt")
                .and_then(getatt_resource)
                .ok_or_else(|| invalid(format!("{context}: FunctionARN must be !GetAtt <function>.FunctionARN")))?;
            if event != "viewer-request" {
                return Err(invalid(format!("{context}: {function} on {event}: only viewer-request is served")));
            }
            let code = self.string(
                field(self.resource(&function, "AWS::CloudFront::Function")?, "FunctionCode", &function)?,
                &function,
            )?;
            // The template test checks the inlined code against the file; here it decides what runs.
            if code.trim() != self.strip_api_js.trim() {
                return Err(invalid(format!(
                    "{function}: its code is not desktop/cloudfront/strip-api.js, the only function the \
                     local stand-in runs"
                )));
            }
            strips_api_prefix = true;
        }
        Ok(Behavior { path_pattern, origin, allowed_methods, headers, strips_api_prefix })
    }

    fn policy(&self, logical_id: &str) -> Result<ResponseHeaders, TemplateError> {
        let properties = self.resource(logical_id, "AWS::CloudFront::ResponseHeadersPolicy")?;
        let config = field(properties, "ResponseHeadersPolicyConfig", logical_id)?;
        if config.get("CorsConfig").is_some() {
            return Err(invalid(format!("{logical_id}: CorsConfig is not served locally (the pages need none)")));
        }
        let mut set = Vec::new();
        let mut remove = Vec::new();
        if let Some(security) = config.get("SecurityHeadersConfig") {
            self.security_headers(security, logical_id, &mut set)?;
        }
        if let Some(custom) = config.get("CustomHeadersConfig") {
            for item in sequence(custom, "Items", logical_id)? {
                set.push(PolicyHeader {
                    name: self.string(field(item, "Header", logical_id)?, logical_id)?,
                    value: self.string(field(item, "Value", logical_id)?, logical_id)?,
                    override_origin: boolean(field(item, "Override", logical_id)?, logical_id)?,
                });
            }
        }
        if let Some(removed) = config.get("RemoveHeadersConfig") {
            for item in sequence(removed, "Items", logical_id)? {
                remove.push(self.string(field(item, "Header", logical_id)?, logical_id)?);
            }
        }
        Ok(ResponseHeaders { policy: logical_id.to_owned(), set, remove })
    }

    /// `SecurityHeadersConfig`: each member is one header, written as CloudFront writes it.
    fn security_headers(
        &self,
        security: &Value,
        policy: &str,
        set: &mut Vec<PolicyHeader>,
    ) -> Result<(), TemplateError> {
        let mapping: &Mapping =
            security.as_mapping().ok_or_else(|| invalid(format!("{policy}: SecurityHeadersConfig is not a map")))?;
        for (key, member) in mapping {
            let key = key.as_str().unwrap_or_default();
            let context = format!("{policy} {key}");
            let override_origin = boolean(field(member, "Override", &context)?, &context)?;
            let (name, value) = match key {
                "ContentSecurityPolicy" => (
                    "Content-Security-Policy",
                    self.string(field(member, "ContentSecurityPolicy", &context)?, &context)?,
                ),
                "ContentTypeOptions" => ("X-Content-Type-Options", "nosniff".to_owned()),
                "FrameOptions" => ("X-Frame-Options", self.string(field(member, "FrameOption", &context)?, &context)?),
                "ReferrerPolicy" => {
                    ("Referrer-Policy", self.string(field(member, "ReferrerPolicy", &context)?, &context)?)
                }
                "StrictTransportSecurity" => {
                    let max_age = integer(field(member, "AccessControlMaxAgeSec", &context)?, &context)?;
                    let mut value = format!("max-age={max_age}");
                    if optional_boolean(member, "IncludeSubdomains", &context)? {
                        value.push_str("; includeSubDomains");
                    }
                    if optional_boolean(member, "Preload", &context)? {
                        value.push_str("; preload");
                    }
                    ("Strict-Transport-Security", value)
                }
                "XSSProtection" => {
                    let mut value =
                        if boolean(field(member, "Protection", &context)?, &context)? { "1" } else { "0" }.to_owned();
                    if optional_boolean(member, "ModeBlock", &context)? {
                        value.push_str("; mode=block");
                    }
                    if let Some(report) = member.get("ReportUri") {
                        value.push_str(&format!("; report={}", self.string(report, &context)?));
                    }
                    ("X-XSS-Protection", value)
                }
                other => return Err(invalid(format!("{policy}: unknown security header {other}"))),
            };
            set.push(PolicyHeader { name: name.to_owned(), value, override_origin });
        }
        Ok(())
    }
}

/// `!GetAtt Name.Attribute` or `[Name, Attribute]`: the resource's logical id.
fn getatt_resource(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => text.split_once('.').map(|(resource, _)| resource.to_owned()),
        Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn field<'v>(value: &'v Value, key: &str, context: &str) -> Result<&'v Value, TemplateError> {
    value.get(key).ok_or_else(|| invalid(format!("{context}: no {key}")))
}

fn sequence<'v>(value: &'v Value, key: &str, context: &str) -> Result<&'v [Value], TemplateError> {
    field(value, key, context)?
        .as_sequence()
        .map(Vec::as_slice)
        .ok_or_else(|| invalid(format!("{context}: {key} must be a list")))
}

fn boolean(value: &Value, context: &str) -> Result<bool, TemplateError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(invalid(format!("{context}: expected true or false, found {}", describe(other)))),
    }
}

fn optional_boolean(value: &Value, key: &str, context: &str) -> Result<bool, TemplateError> {
    value.get(key).map_or(Ok(false), |v| boolean(v, context))
}

fn integer(value: &Value, context: &str) -> Result<u64, TemplateError> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid(format!("{context}: expected a whole number, found {}", describe(value))))
}

/// CloudFormation's `Fn::Sub` on `text` with the local origins: `${Name}` is replaced, `${!Name}`
/// is the literal `${Name}`. The error is the first name that has no local value.
pub fn substitute(text: &str, origins: &LocalOrigins) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // No closing brace: not a variable, as CloudFormation reads it.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            }
            None => out.push_str(match name {
                "ConnectInstanceUrl" => &origins.connect_instance_url,
                "CognitoDomainUrl" => &origins.cognito_domain_url,
                other => return Err(other.to_owned()),
            }),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// CloudFront's path patterns: case-sensitive, `*` any run of characters, `?` exactly one, the
/// leading `/` optional.
pub fn path_pattern_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<char> = pattern.strip_prefix('/').unwrap_or(pattern).chars().collect();
    let path: Vec<char> = path.strip_prefix('/').unwrap_or(path).chars().collect();
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < path.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(c) if *c == '?' || *c == path[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((star_p, star_s)) => {
                    p = star_p + 1;
                    s = star_s + 1;
                    star = Some((star_p, star_s + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// What `desktop/cloudfront/strip-api.js` does to the request URI (its unit test's cases hold here
/// too): `/api/x` → `/x`, `/api` → `/`, anything else unchanged.
pub fn strip_api_prefix(uri: &str) -> String {
    if uri == "/api" {
        "/".to_owned()
    } else if let Some(rest) = uri.strip_prefix("/api/") {
        format!("/{rest}")
    } else {
        uri.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> LocalOrigins {
        LocalOrigins {
            connect_instance_url: "http://127.0.0.1:7001".into(),
            cognito_domain_url: "http://127.0.0.1:7002".into(),
        }
    }

    #[test]
    fn path_patterns_match_as_cloudfront_matches_them() {
        for (pattern, path, expected) in [
            ("/api/*", "/api/session_info/x", true),
            ("api/*", "/api/session_info/x", true),
            ("/api/*", "/api/", true),
            ("/api/*", "/api", false),
            ("/api/*", "/apiary", false),
            ("/audio-only.html", "/audio-only.html", true),
            ("/audio-only.html", "/audio-only.html2", false),
            ("/audio-only.html", "/Audio-only.html", false),
            ("/*.html", "/agent.html", true),
            ("/*.html", "/js/agent.js", false),
            ("/i18n/??.json", "/i18n/en.json", true),
            ("/i18n/??.json", "/i18n/eng.json", false),
            ("*", "/anything/at/all", true),
            ("/a*b*c", "/axxbyyc", true),
            ("/a*b*c", "/axxbyy", false),
        ] {
            assert_eq!(path_pattern_matches(pattern, path), expected, "{pattern} vs {path}");
        }
    }

    #[test]
    fn the_api_prefix_comes_off_as_strip_api_js_takes_it_off() {
        // The cases of desktop/test/unit/strip-api.test.js.
        for (uri, expected) in [
            (
                "/api/session_info/4a573372-1f28-4e26-b97b-123456789abc",
                "/session_info/4a573372-1f28-4e26-b97b-123456789abc",
            ),
            ("/api/setConnectUserId", "/setConnectUserId"),
            ("/api/", "/"),
            ("/api", "/"),
            ("/api/api/x", "/api/x"),
            ("/apiary", "/apiary"),
            ("/agent.html", "/agent.html"),
            ("/api/session_info/a%2Fb", "/session_info/a%2Fb"),
        ] {
            assert_eq!(strip_api_prefix(uri), expected, "{uri}");
        }
    }

    #[test]
    fn sub_replaces_the_contracts_names_and_refuses_others() {
        let local = origins();
        assert_eq!(
            substitute("frame-src ${ConnectInstanceUrl}; connect-src 'self' ${CognitoDomainUrl}", &local).unwrap(),
            "frame-src http://127.0.0.1:7001; connect-src 'self' http://127.0.0.1:7002"
        );
        assert_eq!(substitute("a ${!Literal} b", &local).unwrap(), "a ${Literal} b");
        assert_eq!(substitute("no variables", &local).unwrap(), "no variables");
        assert_eq!(substitute("x ${AWS::Region}", &local), Err("AWS::Region".to_owned()));
    }

    const STRIP_API: &str = "function handler(event) {\n  return event.request;\n}\n";

    /// A distribution as the contract describes it (the real one is the other helper's template).
    fn snippet(csp: &str) -> String {
        format!(
            r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  DesktopAgentHeaders:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Condition: DesktopEnabled
    Properties:
      ResponseHeadersPolicyConfig:
        Name: !Sub '${{AWS::StackName}}-desktop-agent'
        SecurityHeadersConfig:
          ContentSecurityPolicy:
            ContentSecurityPolicy: {csp}
            Override: true
          StrictTransportSecurity: {{AccessControlMaxAgeSec: 31536000, IncludeSubdomains: true, Override: true}}
          ContentTypeOptions: {{Override: true}}
          ReferrerPolicy: {{ReferrerPolicy: no-referrer, Override: true}}
          FrameOptions: {{FrameOption: DENY, Override: true}}
        CustomHeadersConfig:
          Items:
            - Header: Permissions-Policy
              Value: !Sub 'microphone=(self "${{ConnectInstanceUrl}}"), camera=(), geolocation=()'
              Override: true
            - {{Header: Cross-Origin-Opener-Policy, Value: same-origin-allow-popups, Override: 'false'}}
        RemoveHeadersConfig:
          Items: [{{Header: Server}}]
  DesktopAudioOnlyHeaders:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties:
      ResponseHeadersPolicyConfig:
        Name: audio
        CustomHeadersConfig:
          Items:
            - {{Header: Permissions-Policy, Value: 'microphone=(self)', Override: true}}
  StripApiFunction:
    Type: AWS::CloudFront::Function
    Properties:
      Name: strip-api
      AutoPublish: true
      FunctionConfig: {{Comment: strip /api, Runtime: cloudfront-js-2.0}}
      FunctionCode: |
        function handler(event) {{
          return event.request;
        }}
  DesktopDistribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        DefaultRootObject: agent.html
        Origins:
          - Id: Bucket
            DomainName: !GetAtt DesktopBucket.RegionalDomainName
            OriginAccessControlId: !GetAtt DesktopOriginAccessControl.Id
            S3OriginConfig: {{OriginAccessIdentity: ''}}
          - Id: AgentApi
            DomainName: !Sub '${{AgentApi}}.execute-api.${{AWS::Region}}.amazonaws.com'
            CustomOriginConfig: {{OriginProtocolPolicy: https-only}}
        DefaultCacheBehavior:
          TargetOriginId: Bucket
          ViewerProtocolPolicy: redirect-to-https
          ResponseHeadersPolicyId: !Ref DesktopAgentHeaders
        CacheBehaviors:
          - PathPattern: /audio-only.html
            TargetOriginId: Bucket
            ResponseHeadersPolicyId: {{Ref: DesktopAudioOnlyHeaders}}
          - PathPattern: /api/*
            TargetOriginId: AgentApi
            AllowedMethods: [GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE]
            FunctionAssociations:
              - EventType: viewer-request
                FunctionARN: !GetAtt StripApiFunction.FunctionARN
"#
        )
    }

    const CSP: &str =
        "!Sub \"default-src 'none'; connect-src 'self' ${CognitoDomainUrl}; frame-src ${ConnectInstanceUrl}\"";

    #[test]
    fn behaviours_and_their_headers_are_read_with_the_local_origins() {
        let distribution = Distribution::from_template(&snippet(CSP), &origins(), STRIP_API).unwrap();
        assert_eq!(distribution.default_root_object.as_deref(), Some("agent.html"));

        let agent = distribution.behavior_for("/agent.html");
        assert_eq!((agent.path_pattern.as_deref(), agent.origin), (None, OriginKind::Bucket));
        assert!(agent.allows("GET") && agent.allows("head") && !agent.allows("POST"), "CloudFront's default methods");
        let headers = agent.headers.as_ref().unwrap();
        assert_eq!(headers.policy, "DesktopAgentHeaders");
        assert_eq!(
            headers.value("content-security-policy"),
            Some("default-src 'none'; connect-src 'self' http://127.0.0.1:7002; frame-src http://127.0.0.1:7001")
        );
        assert_eq!(headers.value("Strict-Transport-Security"), Some("max-age=31536000; includeSubDomains"));
        assert_eq!(headers.value("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(headers.value("Referrer-Policy"), Some("no-referrer"));
        assert_eq!(headers.value("X-Frame-Options"), Some("DENY"));
        assert_eq!(
            headers.value("Permissions-Policy"),
            Some("microphone=(self \"http://127.0.0.1:7001\"), camera=(), geolocation=()")
        );
        let coop = headers.set.iter().find(|h| h.name == "Cross-Origin-Opener-Policy").unwrap();
        assert_eq!((coop.value.as_str(), coop.override_origin), ("same-origin-allow-popups", false));
        assert_eq!(headers.remove, ["Server"]);
        assert!(!agent.strips_api_prefix);

        let audio = distribution.behavior_for("/audio-only.html");
        assert_eq!(audio.headers.as_ref().unwrap().policy, "DesktopAudioOnlyHeaders", "the long form of Ref");
        assert_eq!(
            distribution.behavior_for("/js/audio-only.js").headers.as_ref().unwrap().policy,
            "DesktopAgentHeaders"
        );

        let api = distribution.behavior_for("/api/session_info/x");
        assert_eq!((api.origin, api.strips_api_prefix, api.headers.is_none()), (OriginKind::Api, true, true));
        assert!(api.allows("POST") && api.allows("DELETE"));
    }

    #[test]
    fn anything_outside_the_contract_is_an_error_naming_it() {
        let error =
            |template: String| Distribution::from_template(&template, &origins(), STRIP_API).unwrap_err().to_string();

        let region = error(snippet("!Sub \"frame-src ${AWS::Region}\""));
        assert!(region.contains("DesktopAgentHeaders") && region.contains("${AWS::Region}"), "{region}");

        let other_function =
            Distribution::from_template(&snippet(CSP), &origins(), "function handler(e) { return 1; }")
                .unwrap_err()
                .to_string();
        assert!(
            other_function.contains("StripApiFunction") && other_function.contains("strip-api.js"),
            "{other_function}"
        );

        let managed = error(snippet(CSP).replace("!Ref DesktopAgentHeaders", "67f7725c-6f97-4210-82d7-5512b31e9d03"));
        assert!(managed.contains("ResponseHeadersPolicyId must be !Ref"), "{managed}");

        let cors = error(snippet(CSP).replace(
            "        CustomHeadersConfig:\n          Items:\n            - {Header: Permissions-Policy, Value: 'microphone=(self)'",
            "        CorsConfig: {AccessControlAllowCredentials: false}\n        CustomHeadersConfig:\n          Items:\n            - {Header: Permissions-Policy, Value: 'microphone=(self)'",
        ));
        assert!(cors.contains("DesktopAudioOnlyHeaders: CorsConfig"), "{cors}");

        let missing = error("Resources: {}".into());
        assert!(missing.contains("no resource DesktopDistribution"), "{missing}");
    }
}
