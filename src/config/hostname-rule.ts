// The CERT_HOSTNAME warning: an endpoint whose trusted certificates can never verify the host its
// hostname verifier checks, so that every handshake is bound to fail. Known from the files alone,
// before any connection: a certificate that vouches for others (a CA) can vouch for whatever
// certificate names the host, but a server's own certificate — a leaf, or a self-signed one,
// CA:TRUE or not — is accepted only as the certificate the backend presents, so its own names
// must match.
import { checkedHostClause, hostnameRemedy, namesAServer, verifierAccepts, vouchesForOthers } from '../certs/hostname.js';
import { certificateLabel, x509Of } from '../certs/parse.js';
import type { CertificateInfo } from '../certs/types.js';
import type { TargetConfig } from './types.js';
import { verifiedHost } from './usage.js';

/** Why no handshake of the endpoint can succeed, or undefined when one can (or it cannot be told). */
export function hostnameProblem(endpoint: TargetConfig): string | undefined {
  const { tls } = endpoint;
  // With the system roots, a public certificate naming the host may be what the backend presents.
  if (endpoint.protocol !== 'https:' || tls.hostnameVerifier === 'AllowAll' || tls.trustSystemCAs) return undefined;
  const certificates = endpoint.certificates.flatMap((file) => file.certificates);
  if (certificates.length === 0 || certificates.some((c) => vouchesForOthers(c, certificates))) return undefined;
  const target = verifiedHost(endpoint);
  if (certificates.some((c) => verifierAccepts(tls.hostnameVerifier, x509Of(c), target.host))) return undefined;

  const one = certificates.length === 1;
  if (certificates.every((c) => !c.isCA && !namesAServer(c))) {
    return `${describeAll(certificates)} ${one ? 'is not a CA (CA:FALSE) and names' : 'are not CAs (CA:FALSE) and name'} no host: ${one ? 'it' : 'they'} cannot vouch for the backend's certificate, nor be the one it presents, so every handshake fails. Trust the backend's own certificate (gatehouse cert fetch) or the real CA that issued it`;
  }
  return `no trusted certificate can match ${checkedHostClause(target)}: ${describeAll(certificates)}. ${one ? 'It is' : 'Each is'} a server's own certificate, accepted only as the one the backend presents, and ${one ? 'it does not name' : 'none names'} "${target.host}", so the handshake is bound to fail: ${hostnameRemedy(target)}`;
}

function describeAll(certificates: readonly CertificateInfo[]): string {
  return certificates.map(describe).join('; ');
}

/** `"CN=a" [DNS:a] (self-signed, CA:TRUE)`. */
function describe(c: CertificateInfo): string {
  const names = c.subjectAltNames.length ? ` [${c.subjectAltNames.join(', ')}]` : '';
  const kind = c.selfIssued ? `self-signed, CA:${c.isCA ? 'TRUE' : 'FALSE'}` : c.isCA ? 'a CA' : 'CA:FALSE';
  return `"${certificateLabel(c)}"${names} (${kind})`;
}
