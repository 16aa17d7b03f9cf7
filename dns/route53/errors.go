package route53

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/goavail/goavail/dns"
)

// classify maps a call's error into the core's classes:
//   - InvalidChangeBatch saying a set was not found, does not match the
//     current values, or already exists: the zone is not as this pass
//     listed it, *dns.FenceMovedError (list again);
//   - any other InvalidChangeBatch, InvalidInput: *dns.RejectedError;
//   - Throttling and PriorRequestNotComplete: *dns.RetryAfterError with no
//     wait (Route 53 names none) and the rate's window (a little over a
//     second), so the core holds about a window, not its 2 s floor that
//     doubles;
//   - AccessDenied, InvalidClientTokenId, SignatureDoesNotMatch, expired
//     or missing credentials, NoSuchHostedZone: *dns.PermanentError naming
//     what to fix;
//   - 5xx, timeouts, connection errors: transient, returned as they are.
func classify(what string, err error) error {
	var icb *types.InvalidChangeBatch
	if errors.As(err, &icb) {
		msgs := icb.Messages
		if len(msgs) == 0 {
			msgs = []string{aws.ToString(icb.Message)}
		}
		joined := strings.Join(msgs, "; ")
		for _, m := range msgs {
			if strings.Contains(m, "but it was not found") || strings.Contains(m, "do not match the current values") || strings.Contains(m, "but it already exists") {
				return &dns.FenceMovedError{Err: fmt.Errorf("%s: Route 53 refused the change batch (InvalidChangeBatch: %s)", what, joined)}
			}
		}
		return &dns.RejectedError{Status: 400, Message: joined, Err: fmt.Errorf("%s: Route 53 refused the change batch (InvalidChangeBatch: %s)", what, joined)}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		switch code {
		case "Throttling", "ThrottlingException", "PriorRequestNotComplete", "TooManyRequestsException", "RequestLimitExceeded":
			return &dns.RetryAfterError{Window: rateWindow, Err: fmt.Errorf("%s: Route 53 asks to slow down (%s: %s)", what, code, api.ErrorMessage())}
		case "InvalidInput", "InvalidArgument", "MalformedInput":
			return &dns.RejectedError{Status: status(err), Message: code, Err: fmt.Errorf("%s: Route 53 refused the request (%s: %s)", what, code, api.ErrorMessage())}
		case "AccessDenied", "AccessDeniedException":
			return &dns.PermanentError{Err: fmt.Errorf("%s: AWS denied the call (%s: %s): grant the credentials' IAM identity route53:ListHostedZonesByName, route53:GetHostedZone, route53:ListResourceRecordSets, route53:ChangeResourceRecordSets and route53:GetChange on the zone (docs/route53.md)", what, code, api.ErrorMessage())}
		case "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "IncompleteSignature", "MissingAuthenticationToken", "ExpiredToken", "InvalidSignatureException":
			return &dns.PermanentError{Err: fmt.Errorf("%s: AWS refused the credentials (%s: %s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile, or the instance role) that the AWS SDK's default chain finds", what, code, api.ErrorMessage())}
		case "NoSuchHostedZone":
			return &dns.PermanentError{Err: fmt.Errorf("%s: %s (%s): check aws_zoneid, or the zone's name", what, code, api.ErrorMessage())}
		}
		return fmt.Errorf("%s: %s: %s (will retry): %w", what, code, api.ErrorMessage(), err)
	}
	return fmt.Errorf("%s: %w (will retry)", what, err)
}

// status is the HTTP status of the answer err came with, 0 if none.
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
