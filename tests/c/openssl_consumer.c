/* A program that uses the libssl port the way another recipe would (Python's _hashlib
 * and _ssl, a server): compiled with the flags `pkg-config --cflags --libs openssl`
 * gives for the installed port, linked by uk-cc. tests/tests/openssl.rs checks its
 * output line by line:
 *   1. SHA-256("abc") (FIPS 180-2 example), HMAC-SHA-256 (RFC 4231 test case 2);
 *   2. AES-256-GCM (the GCM spec's test case 16: key, IV, AAD, plaintext -> ciphertext
 *      and tag), then decryption with the tag and a rejected forged tag;
 *   3. RAND_bytes from the seeded DRBG (getrandom underneath): two draws differ;
 *   4. a TLS 1.3 handshake between a client and a server SSL object over a pair of
 *      memory BIOs, the server's certificate self-signed here, the client verifying it,
 *      then one record each way.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/err.h>

static void hex(const char *label, const unsigned char *p, size_t n)
{
    printf("%s ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static int unhex(const char *s, unsigned char *out)
{
    int n = 0;
    for (; s[0] && s[1]; s += 2)
        sscanf(s, "%2hhx", &out[n++]);
    return n;
}

static int die(const char *what)
{
    fprintf(stderr, "openssl_consumer: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    return 1;
}

static int gcm(void)
{
    unsigned char key[32], iv[12], aad[20], pt[60], ct[64], tag[16], back[64];
    int kn = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key);
    int ivn = unhex("cafebabefacedbaddecaf888", iv);
    int an = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
    int pn = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", pt);
    int len, total;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    if (kn != 32 || ivn != 12 || an != 20 || pn != 60)
        return die("test vector");
    if (!EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv)
        || !EVP_EncryptUpdate(c, NULL, &len, aad, an)
        || !EVP_EncryptUpdate(c, ct, &len, pt, pn))
        return die("AES-256-GCM encrypt");
    total = len;
    if (!EVP_EncryptFinal_ex(c, ct + total, &len)
        || !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag))
        return die("AES-256-GCM final");
    total += len;
    hex("aes-256-gcm ct", ct, total);
    hex("aes-256-gcm tag", tag, 16);

    for (int forged = 0; forged < 2; forged++) {
        unsigned char t[16];
        memcpy(t, tag, 16);
        t[0] ^= forged;
        if (!EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv)
            || !EVP_DecryptUpdate(c, NULL, &len, aad, an)
            || !EVP_DecryptUpdate(c, back, &len, ct, total)
            || !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, t))
            return die("AES-256-GCM decrypt");
        int ok = EVP_DecryptFinal_ex(c, back + len, &len) > 0;
        printf("aes-256-gcm decrypt %s tag: %s\n", forged ? "forged" : "right",
               ok && memcmp(back, pt, pn) == 0 ? "accepted, plaintext matches" : "rejected");
    }
    EVP_CIPHER_CTX_free(c);
    return 0;
}

/* Moves bytes between the two memory BIOs until both sides are done or stuck. */
static int pump(SSL *client, SSL *server, int (*step_c)(SSL *), int (*step_s)(SSL *))
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = step_c(client);
            if (r == 1)
                cdone = 1;
            else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
                return die("client handshake");
        }
        if (!sdone) {
            int r = step_s(server);
            if (r == 1)
                sdone = 1;
            else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
                return die("server handshake");
        }
    }
    return cdone && sdone ? 0 : die("handshake (no progress)");
}

static int tls(void)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    X509_NAME *name;
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *server, *client;
    BIO *c2s, *s2c;
    char buf[64];
    int n;

    if (pkey == NULL || cert == NULL || sctx == NULL || cctx == NULL)
        return die("key and contexts");
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pkey);
    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (!X509_sign(cert, pkey, EVP_sha256()))
        return die("X509_sign");
    if (!SSL_CTX_use_certificate(sctx, cert) || !SSL_CTX_use_PrivateKey(sctx, pkey)
        || !SSL_CTX_check_private_key(sctx))
        return die("server certificate");
    SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    if (!X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), cert))
        return die("trust store");

    server = SSL_new(sctx);
    client = SSL_new(cctx);
    SSL_set1_host(client, "localhost");
    c2s = BIO_new(BIO_s_mem());
    s2c = BIO_new(BIO_s_mem());
    BIO_up_ref(c2s);
    BIO_up_ref(s2c);
    SSL_set_bio(client, s2c, c2s); /* client reads s2c, writes c2s */
    SSL_set_bio(server, c2s, s2c);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    if (pump(client, server, SSL_do_handshake, SSL_do_handshake))
        return 1;
    printf("tls handshake: %s %s, peer verified: %s\n", SSL_get_version(client),
           SSL_get_cipher_name(client),
           SSL_get_verify_result(client) == X509_V_OK ? "yes" : "no");

    if (SSL_write(client, "ping from client", 16) != 16)
        return die("client write");
    n = SSL_read(server, buf, sizeof(buf) - 1);
    if (n <= 0)
        return die("server read");
    buf[n] = 0;
    printf("server read: %s\n", buf);
    if (SSL_write(server, "pong from server", 16) != 16)
        return die("server write");
    n = SSL_read(client, buf, sizeof(buf) - 1);
    if (n <= 0)
        return die("client read");
    buf[n] = 0;
    printf("client read: %s\n", buf);

    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return 0;
}

int main(void)
{
    unsigned char md[EVP_MAX_MD_SIZE], r1[32], r2[32];
    unsigned int mdlen;

    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    if (!EVP_Digest("abc", 3, md, &mdlen, EVP_sha256(), NULL))
        return die("SHA-256");
    hex("sha256(abc)", md, mdlen);
    if (HMAC(EVP_sha256(), "Jefe", 4, (const unsigned char *)"what do ya want for nothing?",
             28, md, &mdlen) == NULL)
        return die("HMAC");
    hex("hmac-sha256 rfc4231-2", md, mdlen);
    if (gcm())
        return 1;
    if (RAND_bytes(r1, sizeof(r1)) != 1 || RAND_bytes(r2, sizeof(r2)) != 1)
        return die("RAND_bytes");
    printf("rand: two 32-byte draws %s\n", memcmp(r1, r2, sizeof(r1)) ? "differ" : "are EQUAL");
    if (tls())
        return 1;
    printf("done\n");
    return 0;
}
