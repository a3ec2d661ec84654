"""Key custody: one KeyStore interface; software (labs only), PKCS#11 and TPM 2.0 backends;
envelope data keys; remote attestation."""
