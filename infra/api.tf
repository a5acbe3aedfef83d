# The routes: POST /uploads and the multipart upload routes under /uploads/{id} (presign-upload),
# GET /payloads/{id} (presign-download). Authorization (var.api_authorization) defaults to AWS_IAM: only callers
# signing with credentials allowed execute-api:Invoke can mint upload URLs into the bucket or
# read payload URLs. JWT suits browsers and partners (an OIDC issuer); NONE makes both routes
# public: anyone with the URL can upload into the bucket (up to max_upload_bytes per URL).
resource "aws_apigatewayv2_api" "http" {
  name          = "${var.name}-api"
  protocol_type = "HTTP"

  # Browsers: API Gateway answers preflights itself (before any authorizer) and adds
  # Access-Control-Allow-Origin for these origins; local mode does the same (cli/src/local/cors.rs).
  dynamic "cors_configuration" {
    for_each = length(var.cors_allowed_origins) > 0 ? [1] : []
    content {
      allow_origins = var.cors_allowed_origins
      allow_methods = ["GET", "POST", "DELETE"]
      allow_headers = local.defaults.api_cors_allowed_headers
      max_age       = 3600
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count            = var.api_authorization == "JWT" ? 1 : 0
  api_id           = aws_apigatewayv2_api.http.id
  authorizer_type  = "JWT"
  name             = "${var.name}-jwt"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
  lifecycle {
    precondition {
      condition     = var.jwt_issuer != null && length(var.jwt_audience) > 0
      error_message = "api_authorization = \"JWT\" needs jwt_issuer (the OIDC issuer URL) and at least one jwt_audience."
    }
  }
}

locals {
  routes = {
    "POST /uploads"               = "presign-upload"
    "GET /uploads/{id}/parts"     = "presign-upload"
    "POST /uploads/{id}/complete" = "presign-upload"
    "DELETE /uploads/{id}"        = "presign-upload"
    "GET /payloads/{id}"          = "presign-download"
  }
  # Going on with an upload needs what starting one needs.
  upload_route_scopes = length(var.upload_scopes) > 0 ? var.upload_scopes : null
  route_scopes = {
    "POST /uploads"               = local.upload_route_scopes
    "GET /uploads/{id}/parts"     = local.upload_route_scopes
    "POST /uploads/{id}/complete" = local.upload_route_scopes
    "DELETE /uploads/{id}"        = local.upload_route_scopes
    "GET /payloads/{id}"          = length(var.read_scopes) > 0 ? var.read_scopes : null
  }
}

resource "aws_apigatewayv2_integration" "route" {
  for_each               = local.routes
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.function[each.value].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "route" {
  for_each           = local.routes
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.route[each.key].id}"
  authorization_type = var.api_authorization
  authorizer_id      = var.api_authorization == "JWT" ? aws_apigatewayv2_authorizer.jwt[0].id : null
  # With JWT, the token must carry one of the route's scopes (none configured: any valid token).
  authorization_scopes = var.api_authorization == "JWT" ? lookup(local.route_scopes, each.key, null) : null
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days).
  name              = "/aws/apigateway/${var.name}-api"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
  default_route_settings {
    throttling_burst_limit = var.api_throttling_burst
    throttling_rate_limit  = var.api_throttling_rate
  }
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      time      = "$context.requestTime"
      route     = "$context.routeKey"
      status    = "$context.status"
      latency   = "$context.responseLatency"
      error     = "$context.integrationErrorMessage"
      # Who called: the IAM principal (AWS_IAM) or the token's issuer and subject (JWT).
      userArn = "$context.identity.userArn"
      issuer  = "$context.authorizer.claims.iss"
      subject = "$context.authorizer.claims.sub"
    })
  }
}

# One permission per route; a function serving several routes gets several statements, each
# with its own id (Lambda refuses a statement id twice on one function).
resource "aws_lambda_permission" "api_invokes" {
  for_each      = local.routes
  statement_id  = "AllowApiGateway-${trim(replace(each.key, "/[^A-Za-z0-9]+/", "-"), "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.value].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/${replace(replace(each.key, " ", ""), "{id}", "*")}"
}
