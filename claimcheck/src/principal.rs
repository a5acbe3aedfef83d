//! Who is calling the HTTP API, as API Gateway's authorizer tells the function (payload format
//! 2.0's `requestContext.authorizer`), and who may read which payload.
//!
//! - `AWS_IAM`: `authorizer.iam.userArn` (an IAM user's ARN, or an assumed role's session ARN
//!   `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), with `accountId` and `accessKey`.
//! - `JWT`: `authorizer.jwt.claims` (`iss`, `sub`, every claim as a string) and `scopes`.
//! - `NONE`: no authorizer; the caller is anonymous and known only by its source IP.
//!
//! A payload belongs to the principal that asked for its upload URL ([`Principal::owner`],
//! kept on the ledger item); [`AccessPolicy::may_read`] decides who else may read it.
//! (Source: AWS, "Working with AWS Lambda proxy integrations for HTTP APIs", payload format
//! 2.0.)

use aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

/// The caller of one API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A caller that signed with SigV4 (`AWS_IAM` authorization).
    Iam {
        /// `authorizer.iam.userArn`.
        user_arn: String,
        /// `authorizer.iam.accountId`, when given.
        account_id: Option<String>,
    },
    /// A caller that presented a JWT (`JWT` authorization).
    Jwt {
        /// The token's `iss` claim.
        issuer: String,
        /// The token's `sub` claim.
        subject: String,
        /// The token's scopes (`authorizer.jwt.scopes`, else its `scope` claim split on
        /// spaces).
        scopes: Vec<String>,
    },
    /// No authorizer (`NONE`): anyone.
    Anonymous {
        /// `requestContext.http.sourceIp`, when given.
        source_ip: Option<String>,
    },
    /// An authorizer let the request through but named nobody (an IAM context without a
    /// `userArn`, a token without `iss` or `sub`, a Lambda authorizer's context): such a caller
    /// can own nothing and read nothing.
    Unidentified,
}

impl Principal {
    /// The caller of a request with this context: IAM when `authorizer.iam.userArn` is set,
    /// JWT when `authorizer.jwt.claims` has both `iss` and `sub`, anonymous when there is no
    /// authorizer context, unidentified when there is one that names nobody.
    pub fn from_context(context: Option<&ApiGatewayV2httpRequestContext>) -> Self {
        let source_ip = context.and_then(|c| c.http.source_ip.clone());
        let Some(authorizer) = context.and_then(|c| c.authorizer.as_ref()) else {
            return Self::Anonymous { source_ip };
        };
        if authorizer.iam.is_none() && authorizer.jwt.is_none() && authorizer.fields.is_empty() {
            return Self::Anonymous { source_ip };
        }
        if let Some(iam) = &authorizer.iam
            && let Some(user_arn) = iam.user_arn.as_deref().filter(|a| !a.is_empty())
        {
            return Self::Iam {
                user_arn: user_arn.to_owned(),
                account_id: iam.account_id.clone(),
            };
        }
        if let Some(jwt) = &authorizer.jwt {
            let claim = |name: &str| jwt.claims.get(name).filter(|v| !v.is_empty());
            if let (Some(issuer), Some(subject)) = (claim("iss"), claim("sub")) {
                let scopes = match &jwt.scopes {
                    Some(scopes) => scopes.clone(),
                    None => claim("scope")
                        .map(|s| s.split_whitespace().map(str::to_owned).collect())
                        .unwrap_or_default(),
                };
                return Self::Jwt {
                    issuer: issuer.clone(),
                    subject: subject.clone(),
                    scopes,
                };
            }
        }
        Self::Unidentified
    }

    /// The owner recorded on the payloads this principal uploads: the IAM `userArn`, or the
    /// JWT's `iss` and `sub` joined by `#` (a subject is unique only within its issuer).
    /// `None` for an anonymous caller (under `NONE` authorization anyone holding a payload id
    /// may read it) and an unidentified one.
    pub fn owner(&self) -> Option<String> {
        match self {
            Self::Iam { user_arn, .. } => Some(user_arn.clone()),
            Self::Jwt {
                issuer, subject, ..
            } => Some(format!("{issuer}#{subject}")),
            Self::Anonymous { .. } | Self::Unidentified => None,
        }
    }

    /// Whether the caller is one the API can serve: anyone under `NONE`, a named principal
    /// otherwise. An unidentified caller is refused (it could own nothing).
    pub fn is_identified(&self) -> bool {
        !matches!(self, Self::Unidentified)
    }

    /// Whom the cap on pending uploads counts against: the owner, or for an anonymous caller
    /// its source IP (`anonymous@IP`).
    pub fn quota_key(&self) -> String {
        match (self.owner(), self) {
            (Some(owner), _) => owner,
            (None, Self::Anonymous { source_ip }) => {
                format!("anonymous@{}", source_ip.as_deref().unwrap_or("unknown"))
            }
            (None, _) => "anonymous".into(),
        }
    }
}

/// Whether `principal` is the owner of a payload recorded with `owner`: the same owner, or,
/// for a payload uploaded without authorization (no owner), an anonymous caller. Only the
/// owner may go on with an upload (ask for part URLs, complete, abort); operators may read,
/// not upload.
pub fn is_owner(principal: &Principal, owner: Option<&str>) -> bool {
    if !principal.is_identified() {
        return false;
    }
    match (owner, principal.owner()) {
        (Some(owner), Some(caller)) => owner == caller,
        (None, None) => true,
        _ => false,
    }
}

/// Who may read payloads besides their owner: operators, named by IAM ARN or JWT scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// IAM principals that may read every payload: a user's ARN, an assumed role's session
    /// ARN, or a role's ARN (`arn:aws:iam::ACCOUNT:role/[PATH/]NAME`), which matches every
    /// session of that role (`arn:aws:sts::ACCOUNT:assumed-role/NAME/*`, the form API
    /// Gateway's `userArn` takes for a role's credentials).
    pub operator_arns: Vec<String>,
    /// A JWT scope that may read every payload.
    pub operator_scope: Option<String>,
}

impl AccessPolicy {
    /// Whether `principal` may read a payload recorded with `owner`: its owner, an operator,
    /// or anyone for a payload uploaded without authorization (no owner) when the caller is
    /// anonymous too. A payload with an owner is never readable anonymously.
    pub fn may_read(&self, principal: &Principal, owner: Option<&str>) -> bool {
        self.is_operator(principal) || is_owner(principal, owner)
    }

    /// Whether `principal` is one of the operators.
    pub fn is_operator(&self, principal: &Principal) -> bool {
        match principal {
            Principal::Iam { user_arn, .. } => self
                .operator_arns
                .iter()
                .any(|operator| arn_matches(operator, user_arn)),
            Principal::Jwt { scopes, .. } => self
                .operator_scope
                .as_ref()
                .is_some_and(|scope| scopes.contains(scope)),
            Principal::Anonymous { .. } | Principal::Unidentified => false,
        }
    }
}

/// `operator` names `user_arn`: equal, or a role whose session it is.
fn arn_matches(operator: &str, user_arn: &str) -> bool {
    if operator == user_arn {
        return true;
    }
    // arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME → arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/
    let parts: Vec<&str> = operator.splitn(6, ':').collect();
    let [arn, partition, "iam", "", account, resource] = parts[..] else {
        return false;
    };
    let Some(role_path) = resource.strip_prefix("role/") else {
        return false;
    };
    let name = role_path.rsplit('/').next().unwrap_or(role_path);
    let session_prefix = format!("{arn}:{partition}:sts::{account}:assumed-role/{name}/");
    user_arn
        .strip_prefix(&session_prefix)
        .is_some_and(|session| !session.is_empty() && !session.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
        ApiGatewayRequestAuthorizerJwtDescription,
    };

    fn iam(arn: &str) -> Principal {
        Principal::Iam {
            user_arn: arn.into(),
            account_id: None,
        }
    }

    #[test]
    fn the_principal_comes_from_the_authorizer() {
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some("192.0.2.1".into());
        assert_eq!(
            Principal::from_context(Some(&context)),
            Principal::Anonymous {
                source_ip: Some("192.0.2.1".into())
            }
        );
        let mut description = ApiGatewayRequestAuthorizerIamDescription::default();
        description.user_arn = Some("arn:aws:iam::123456789012:user/alice".into());
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.iam = Some(description);
        context.authorizer = Some(authorizer.clone());
        let principal = Principal::from_context(Some(&context));
        assert_eq!(
            principal.owner().as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );

        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims.insert("iss".into(), "https://issuer".into());
        jwt.claims.insert("sub".into(), "bob".into());
        jwt.claims.insert("scope".into(), "a b".into());
        authorizer.iam = None;
        authorizer.jwt = Some(jwt);
        context.authorizer = Some(authorizer);
        let principal = Principal::from_context(Some(&context));
        assert_eq!(principal.owner().as_deref(), Some("https://issuer#bob"));
        let mut nameless = context.clone();
        if let Some(jwt) = nameless.authorizer.as_mut().and_then(|a| a.jwt.as_mut()) {
            jwt.claims.remove("sub");
        }
        let unidentified = Principal::from_context(Some(&nameless));
        assert_eq!(unidentified, Principal::Unidentified);
        assert!(!AccessPolicy::default().may_read(&unidentified, None));
        let Principal::Jwt { scopes, .. } = principal else {
            panic!("not a JWT principal");
        };
        assert_eq!(scopes, ["a", "b"]);
    }

    #[test]
    fn owners_read_their_own_payloads_and_nobody_else_s() {
        let policy = AccessPolicy::default();
        let alice = iam("arn:aws:iam::123456789012:user/alice");
        let bob = iam("arn:aws:iam::123456789012:user/bob");
        let anonymous = Principal::Anonymous { source_ip: None };
        let owner = alice.owner();
        assert!(policy.may_read(&alice, owner.as_deref()));
        assert!(!policy.may_read(&bob, owner.as_deref()));
        assert!(!policy.may_read(&anonymous, owner.as_deref()));
        assert!(policy.may_read(&anonymous, None));
        assert!(!policy.may_read(&alice, None));
    }

    #[test]
    fn operators_read_everything() {
        let policy = AccessPolicy {
            operator_arns: vec!["arn:aws:iam::123456789012:role/ops/on-call".into()],
            operator_scope: Some("claimcheck/operator".into()),
        };
        let owner = Some("arn:aws:iam::123456789012:user/alice");
        let session = iam("arn:aws:sts::123456789012:assumed-role/on-call/jane");
        assert!(policy.may_read(&session, owner));
        for other in [
            "arn:aws:sts::123456789012:assumed-role/on-call-2/jane",
            "arn:aws:sts::999999999999:assumed-role/on-call/jane",
            "arn:aws:sts::123456789012:assumed-role/on-call/",
            "arn:aws:iam::123456789012:user/on-call",
        ] {
            assert!(!policy.may_read(&iam(other), owner), "{other}");
        }
        let operator = Principal::Jwt {
            issuer: "i".into(),
            subject: "s".into(),
            scopes: vec!["claimcheck/operator".into()],
        };
        assert!(policy.may_read(&operator, owner));
        let user = Principal::Jwt {
            issuer: "i".into(),
            subject: "s".into(),
            scopes: vec!["claimcheck/read".into()],
        };
        assert!(!policy.may_read(&user, owner));
    }
}
