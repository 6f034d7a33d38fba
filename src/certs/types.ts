// What Gatehouse knows of a certificate and of a certificate file, once parsed: the shapes that
// the certificates folder, the configuration, the backend connector and every report share.

export interface CertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltNames: readonly string[];
  readonly serialNumber: string;
  /** SHA-256 of the DER, colon-separated upper-case hex as openssl prints it. */
  readonly fingerprint256: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly notAfterMs: number;
  readonly isCA: boolean;
  /** Subject equals issuer: a root CA or a self-signed server certificate. */
  readonly selfIssued: boolean;
  readonly pem: string;
}

export interface CertificateFile {
  readonly alias: string;
  /** Absolute path of the file. */
  readonly path: string;
  /** SHA-256 of the file's bytes (hex), part of the configuration's revision. */
  readonly sha256: string;
  readonly certificates: readonly CertificateInfo[];
}

/** The HTTPS listener's own key material, as read from the certificates folder. */
export type KeyPairCredentials =
  | { readonly kind: 'pem'; readonly certPath: string; readonly keyPath: string; readonly cert: Buffer; readonly key: Buffer; readonly certificates: readonly CertificateInfo[] }
  | { readonly kind: 'pfx'; readonly path: string; readonly pfx: Buffer; readonly certificates: readonly CertificateInfo[] };
