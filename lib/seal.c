/* SPDX-License-Identifier: MIT */
/*
 * Sealed gossip datagrams: the keyring, key lines, crdt_seal /
 * crdt_seal_open and the sealer that wraps a gossip node.
 *
 * Representation.  A keyring is a small array of (id, key) slots sorted
 * by id, so that open finds the key its header names by binary search,
 * plus the primary's id.  The array never grows with realloc: a new one
 * is allocated, the slots copied, the old one wiped and freed, so no copy
 * of a key is left in freed memory.  Every slot a key leaves is wiped.
 *
 * Hot path.  A seal is one randombytes_buf of 24 bytes and one
 * crypto_aead_xchacha20poly1305_ietf_encrypt; an open of a sealed
 * datagram is a bounds check, a binary search and one decrypt.  The
 * public crdt_seal_open promises to leave its output untouched on error,
 * and libsodium's decrypt clears its output when the tag fails, so it
 * checks the tag first (decrypt with no output) and decrypts after; the
 * sealer decrypts into its own buffer in one pass (its tx and rx
 * buffers are allocated once, at crdt_sealer_new).  Nothing here
 * allocates but keyring growth and the sealer's buffer.
 */
#include "config.h"

#include <crdt/seal.h>

#include <sodium.h>
#include <string.h>

#include "mem_internal.h"

/* ====================================================================== */
/* Private constants and helpers                                          */
/* ====================================================================== */

#define ID_OFF 1u        /* key id, 4 bytes big-endian */
#define NONCE_OFF 5u     /* nonce, 24 bytes */
#define AD_HEAD 5u       /* format and key id: the header's AD part */
#define AD_BYTES 13u     /* header AD part and the cluster id */

static const char key_prefix[] = "crdt-key v";
#define KEY_PREFIX_LEN 10u   /* "crdt-key v" */
#define KEY_ID_OFF 12u       /* "crdt-key v1 " */
#define KEY_HEX_OFF 21u      /* then 8 id digits and a space */
#define KEY_LINE_LEN 85u     /* then 64 key digits */

typedef struct key_slot {
    uint32_t id;
    uint8_t key[CRDT_SEAL_KEY_BYTES];
} key_slot;

struct crdt_keyring {
    crdt_mem mem;
    key_slot *slots; /* n slots sorted by id, cap allocated */
    size_t n, cap;
    uint32_t primary; /* 0 iff n == 0 */
};

struct crdt_sealer {
    crdt_mem mem;
    const crdt_keyring *kr;
    crdt_sealer_settings set;
    crdt_sealer_stats stats;
    /* Two buffers of set.max_sealed bytes in one block: tx for sealing,
     * rx for opened plaintext.  Separate because the node may send
     * (through crdt_sealer_send) while it reads a datagram opened into
     * rx. */
    uint8_t *tx, *rx;
};

_Static_assert(CRDT_SEAL_HEADER_BYTES == 1 + 4 + CRDT_SEAL_NONCE_BYTES,
               "header layout");
_Static_assert(CRDT_SEAL_OVERHEAD ==
                   CRDT_SEAL_HEADER_BYTES + CRDT_SEAL_TAG_BYTES,
               "overhead");
_Static_assert(CRDT_SEAL_OVERHEAD <= 48, "the node's design allows 48");
_Static_assert(CRDT_SEAL_NONCE_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(CRDT_SEAL_TAG_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "tag size");
_Static_assert(CRDT_SEAL_KEY_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "key size");
_Static_assert(CRDT_SEAL_KEY_TEXT_BYTES == KEY_LINE_LEN + 1, "key line");

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Index of the first slot with id >= id. */
static size_t slot_lower(const crdt_keyring *kr, uint32_t id)
{
    size_t lo = 0, hi = kr->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (kr->slots[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const key_slot *slot_find(const crdt_keyring *kr, uint32_t id)
{
    size_t i = slot_lower(kr, id);

    return i < kr->n && kr->slots[i].id == id ? &kr->slots[i] : NULL;
}

static void info_set(crdt_decode_info *info, int code, size_t offset)
{
    if (info) {
        info->code = code;
        info->offset = offset;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ====================================================================== */
/* Sizes and classification                                               */
/* ====================================================================== */

size_t crdt_seal_overhead(void)
{
    return CRDT_SEAL_OVERHEAD;
}

size_t crdt_seal_key_bytes(void)
{
    return CRDT_SEAL_KEY_BYTES;
}

size_t crdt_seal_max_plaintext(size_t sealed_max)
{
    return sealed_max < CRDT_SEAL_OVERHEAD ? 0
                                           : sealed_max - CRDT_SEAL_OVERHEAD;
}

bool crdt_seal_is_plaintext(const uint8_t *data, size_t len)
{
    if (!data || len == 0)
        return false;
    return (data[0] & 0xf0) == 0x90 || data[0] == 0xdc || data[0] == 0xdd;
}

/* ====================================================================== */
/* Keyring                                                                */
/* ====================================================================== */

int crdt_keyring_new(crdt_keyring **out, const crdt_mem *mem)
{
    crdt_keyring *kr;
    crdt_mem m;

    if (!out)
        return CRDT_ERR_INVALID_ARG;
    if (sodium_init() < 0)
        return CRDT_ERR_RANDOM;
    crdtp_mem_set(&m, mem);
    kr = crdtp_malloc(&m, sizeof *kr);
    if (!kr)
        return CRDT_ERR_NOMEM;
    memset(kr, 0, sizeof *kr);
    kr->mem = m;
    *out = kr;
    return CRDT_OK;
}

void crdt_keyring_free(crdt_keyring *kr)
{
    crdt_mem m;

    if (!kr)
        return;
    m = kr->mem;
    if (kr->slots) {
        sodium_memzero(kr->slots, kr->cap * sizeof *kr->slots);
        crdtp_free(&m, kr->slots);
    }
    sodium_memzero(kr, sizeof *kr);
    crdtp_free(&m, kr);
}

int crdt_keyring_add(crdt_keyring *kr, uint32_t id, const uint8_t *key,
                     bool primary)
{
    size_t i;

    if (!kr || !key || id == 0)
        return CRDT_ERR_INVALID_ARG;
    i = slot_lower(kr, id);
    if (i < kr->n && kr->slots[i].id == id)
        return CRDT_ERR_INVALID_ARG;
    if (kr->n >= CRDT_SEAL_MAX_KEYS)
        return CRDT_ERR_LIMIT;
    if (kr->n == kr->cap) {
        size_t cap = crdtp_grow_cap(kr->cap, kr->n + 1);
        key_slot *ns;

        if (cap > CRDT_SEAL_MAX_KEYS)
            cap = CRDT_SEAL_MAX_KEYS;
        ns = crdtp_malloc_array(&kr->mem, cap, sizeof *ns);
        if (!ns)
            return CRDT_ERR_NOMEM;
        if (kr->n)
            memcpy(ns, kr->slots, kr->n * sizeof *ns);
        if (kr->slots) {
            sodium_memzero(kr->slots, kr->cap * sizeof *kr->slots);
            crdtp_free(&kr->mem, kr->slots);
        }
        kr->slots = ns;
        kr->cap = cap;
    }
    memmove(&kr->slots[i + 1], &kr->slots[i],
            (kr->n - i) * sizeof *kr->slots);
    kr->slots[i].id = id;
    memcpy(kr->slots[i].key, key, CRDT_SEAL_KEY_BYTES);
    kr->n++;
    if (primary || kr->primary == 0)
        kr->primary = id;
    return CRDT_OK;
}

int crdt_keyring_add_text(crdt_keyring *kr, const char *text, size_t len,
                          bool primary, crdt_decode_info *info)
{
    uint8_t key[CRDT_SEAL_KEY_BYTES];
    uint32_t id;
    int rv;

    if (!kr) {
        info_set(info, CRDT_ERR_INVALID_ARG, 0);
        return CRDT_ERR_INVALID_ARG;
    }
    rv = crdt_seal_key_parse(text, len, &id, key, info);
    if (rv == CRDT_OK) {
        rv = crdt_keyring_add(kr, id, key, primary);
        if (rv != CRDT_OK)
            info_set(info, rv, 0);
    }
    sodium_memzero(key, sizeof key);
    return rv;
}

int crdt_keyring_remove(crdt_keyring *kr, uint32_t id)
{
    size_t i;

    if (!kr || id == 0 || id == kr->primary)
        return CRDT_ERR_INVALID_ARG;
    i = slot_lower(kr, id);
    if (i >= kr->n || kr->slots[i].id != id)
        return CRDT_ERR_NOT_FOUND;
    memmove(&kr->slots[i], &kr->slots[i + 1],
            (kr->n - i - 1) * sizeof *kr->slots);
    kr->n--;
    /* the last slot's key was moved down (or is the removed one) */
    sodium_memzero(&kr->slots[kr->n], sizeof *kr->slots);
    return CRDT_OK;
}

int crdt_keyring_set_primary(crdt_keyring *kr, uint32_t id)
{
    if (!kr || id == 0)
        return CRDT_ERR_INVALID_ARG;
    if (!slot_find(kr, id))
        return CRDT_ERR_NOT_FOUND;
    kr->primary = id;
    return CRDT_OK;
}

uint32_t crdt_keyring_primary(const crdt_keyring *kr)
{
    return kr ? kr->primary : 0;
}

size_t crdt_keyring_count(const crdt_keyring *kr)
{
    return kr ? kr->n : 0;
}

int crdt_keyring_id_at(const crdt_keyring *kr, size_t i, uint32_t *id)
{
    if (!kr || !id)
        return CRDT_ERR_INVALID_ARG;
    if (i >= kr->n)
        return CRDT_ERR_NOT_FOUND;
    *id = kr->slots[i].id;
    return CRDT_OK;
}

bool crdt_keyring_has(const crdt_keyring *kr, uint32_t id)
{
    return kr && id != 0 && slot_find(kr, id) != NULL;
}

int crdt_keyring_key_text(const crdt_keyring *kr, uint32_t id, char *out,
                          size_t cap)
{
    const key_slot *s;

    if (!kr || !out || id == 0)
        return CRDT_ERR_INVALID_ARG;
    s = slot_find(kr, id);
    if (!s)
        return CRDT_ERR_NOT_FOUND;
    return crdt_seal_key_format(s->id, s->key, out, cap);
}

/* ====================================================================== */
/* Keys and key lines                                                     */
/* ====================================================================== */

int crdt_seal_key_generate(uint32_t *id, uint8_t *key, char *text,
                           size_t cap)
{
    uint8_t k[CRDT_SEAL_KEY_BYTES];
    uint32_t i;
    int rv = CRDT_OK;

    if (!id || !key)
        return CRDT_ERR_INVALID_ARG;
    if (text && cap < CRDT_SEAL_KEY_TEXT_BYTES + 1)
        return CRDT_ERR_BUFFER;
    if (sodium_init() < 0)
        return CRDT_ERR_RANDOM;
    crypto_aead_xchacha20poly1305_ietf_keygen(k);
    i = 1 + randombytes_uniform(UINT32_MAX); /* 1 .. 2^32 - 1 */
    if (text)
        rv = crdt_seal_key_format(i, k, text, cap);
    if (rv == CRDT_OK) {
        memcpy(key, k, sizeof k);
        *id = i;
    }
    sodium_memzero(k, sizeof k);
    return rv;
}

int crdt_seal_key_format(uint32_t id, const uint8_t *key, char *out,
                         size_t cap)
{
    char line[CRDT_SEAL_KEY_TEXT_BYTES + 1];
    uint8_t idb[4];

    if (!key || !out || id == 0)
        return CRDT_ERR_INVALID_ARG;
    if (cap < sizeof line)
        return CRDT_ERR_BUFFER;
    memcpy(line, "crdt-key v1 ", KEY_ID_OFF);
    put_be32(idb, id);
    sodium_bin2hex(line + KEY_ID_OFF, 9, idb, sizeof idb);
    line[KEY_HEX_OFF - 1] = ' ';
    /* constant time in the key's bytes */
    sodium_bin2hex(line + KEY_HEX_OFF, 2 * CRDT_SEAL_KEY_BYTES + 1, key,
                   CRDT_SEAL_KEY_BYTES);
    line[KEY_LINE_LEN] = '\n';
    line[KEY_LINE_LEN + 1] = '\0';
    memcpy(out, line, sizeof line);
    sodium_memzero(line, sizeof line);
    return CRDT_OK;
}

int crdt_seal_key_parse(const char *text, size_t len, uint32_t *id,
                        uint8_t *key, crdt_decode_info *info)
{
    uint8_t k[CRDT_SEAL_KEY_BYTES];
    uint32_t v = 0;
    size_t i, end;
    int rv = CRDT_ERR_DECODE;
    size_t at = 0;

    if ((!text && len) || !id || !key) {
        info_set(info, CRDT_ERR_INVALID_ARG, 0);
        return CRDT_ERR_INVALID_ARG;
    }
    /* "crdt-key v" */
    for (i = 0; i < KEY_PREFIX_LEN; i++)
        if (i >= len || text[i] != key_prefix[i]) {
            info_set(info, CRDT_ERR_DECODE, i);
            return CRDT_ERR_DECODE;
        }
    /* the version: "1 " */
    if (len < KEY_ID_OFF || text[KEY_PREFIX_LEN] != '1' ||
        text[KEY_PREFIX_LEN + 1] != ' ') {
        /* a version of digits other than "1": another version */
        size_t j = KEY_PREFIX_LEN;

        while (j < len && text[j] >= '0' && text[j] <= '9')
            j++;
        if (j > KEY_PREFIX_LEN && (j == len || text[j] == ' ') &&
            !(j == KEY_PREFIX_LEN + 1 && text[KEY_PREFIX_LEN] == '1')) {
            info_set(info, CRDT_ERR_VERSION, KEY_PREFIX_LEN);
            return CRDT_ERR_VERSION;
        }
        info_set(info, CRDT_ERR_DECODE, j < len ? j : len);
        return CRDT_ERR_DECODE;
    }
    /* the key id: 8 hexadecimal digits, then a space */
    for (i = KEY_ID_OFF; i < KEY_HEX_OFF - 1; i++) {
        int d = i < len ? hex_digit(text[i]) : -1;

        if (d < 0) {
            at = i < len ? i : len;
            goto fail;
        }
        v = v << 4 | (uint32_t)d;
    }
    if (v == 0) {
        at = KEY_ID_OFF;
        goto fail;
    }
    if (len <= KEY_HEX_OFF - 1 || text[KEY_HEX_OFF - 1] != ' ') {
        at = len < KEY_HEX_OFF - 1 ? len : KEY_HEX_OFF - 1;
        goto fail;
    }
    /* the key: 64 hexadecimal digits (checked one by one for the error
     * offset, then decoded in constant time) */
    for (i = KEY_HEX_OFF; i < KEY_LINE_LEN; i++)
        if (i >= len || hex_digit(text[i]) < 0) {
            at = i < len ? i : len;
            goto fail;
        }
    {
        size_t got = 0;

        if (sodium_hex2bin(k, sizeof k, text + KEY_HEX_OFF,
                           2 * CRDT_SEAL_KEY_BYTES, NULL, &got, NULL) != 0 ||
            got != sizeof k) {
            at = KEY_HEX_OFF;
            goto fail;
        }
    }
    /* an optional "\n" or "\r\n", then nothing */
    end = KEY_LINE_LEN;
    if (end < len && text[end] == '\r' && end + 1 < len &&
        text[end + 1] == '\n')
        end += 2;
    else if (end < len && text[end] == '\n')
        end++;
    if (end != len) {
        at = end;
        goto fail;
    }
    memcpy(key, k, sizeof k);
    *id = v;
    rv = CRDT_OK;
    info_set(info, CRDT_OK, len);
fail:
    sodium_memzero(k, sizeof k);
    if (rv != CRDT_OK)
        info_set(info, rv, at);
    return rv;
}

/* ====================================================================== */
/* Seal and open                                                          */
/* ====================================================================== */

static void make_ad(uint8_t ad[AD_BYTES], const uint8_t *head,
                    uint64_t cluster_id)
{
    memcpy(ad, head, AD_HEAD);
    put_be64(ad + AD_HEAD, cluster_id);
}

int crdt_seal(const crdt_keyring *kr, uint64_t cluster_id,
              const uint8_t *data, size_t len, uint8_t *out, size_t cap,
              size_t *outlen)
{
    const key_slot *s;
    uint8_t ad[AD_BYTES];
    unsigned long long clen;

    if (!kr || (!data && len) || !out || !outlen)
        return CRDT_ERR_INVALID_ARG;
    s = kr->primary ? slot_find(kr, kr->primary) : NULL;
    if (!s)
        return CRDT_ERR_NOT_FOUND;
    if (len > SIZE_MAX - CRDT_SEAL_OVERHEAD || cap < len + CRDT_SEAL_OVERHEAD)
        return CRDT_ERR_BUFFER;
    out[0] = CRDT_SEAL_FORMAT_1;
    put_be32(out + ID_OFF, s->id);
    randombytes_buf(out + NONCE_OFF, CRDT_SEAL_NONCE_BYTES);
    make_ad(ad, out, cluster_id);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + CRDT_SEAL_HEADER_BYTES, &clen, data, len, ad, sizeof ad, NULL,
        out + NONCE_OFF, s->key);
    *outlen = (size_t)clen + CRDT_SEAL_HEADER_BYTES;
    return CRDT_OK;
}

/* Checks the header and finds the key; CRDT_OK or the error. */
static int open_check(const crdt_keyring *kr, const uint8_t *data,
                      size_t len, const key_slot **slot)
{
    if (len == 0)
        return CRDT_ERR_DECODE;
    if (data[0] != CRDT_SEAL_FORMAT_1)
        return CRDT_ERR_VERSION;
    if (len < CRDT_SEAL_OVERHEAD)
        return CRDT_ERR_DECODE;
    *slot = slot_find(kr, get_be32(data + ID_OFF));
    return *slot ? CRDT_OK : CRDT_ERR_NOT_FOUND;
}

/* Opens into out (cap checked by the caller).  verify_first: leave out
 * untouched when the tag fails (libsodium clears it otherwise). */
static int open_into(const key_slot *s, uint64_t cluster_id,
                     const uint8_t *data, size_t len, uint8_t *out,
                     bool verify_first)
{
    const uint8_t *c = data + CRDT_SEAL_HEADER_BYTES;
    size_t n = len - CRDT_SEAL_OVERHEAD;
    uint8_t ad[AD_BYTES];

    make_ad(ad, data, cluster_id);
    if (verify_first &&
        crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            NULL, NULL, c, n, c + n, ad, sizeof ad, data + NONCE_OFF,
            s->key) != 0)
        return CRDT_ERR_AUTH;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            out, NULL, c, n, c + n, ad, sizeof ad, data + NONCE_OFF,
            s->key) != 0)
        return CRDT_ERR_AUTH;
    return CRDT_OK;
}

int crdt_seal_open(const crdt_keyring *kr, uint64_t cluster_id,
                   const uint8_t *data, size_t len, uint8_t *out, size_t cap,
                   size_t *outlen)
{
    const key_slot *s = NULL;
    int rv;

    if (!kr || (!data && len) || !out || !outlen)
        return CRDT_ERR_INVALID_ARG;
    rv = open_check(kr, data, len, &s);
    if (rv != CRDT_OK)
        return rv;
    if (cap < len - CRDT_SEAL_OVERHEAD)
        return CRDT_ERR_BUFFER;
    rv = open_into(s, cluster_id, data, len, out, true);
    if (rv == CRDT_OK)
        *outlen = len - CRDT_SEAL_OVERHEAD;
    return rv;
}

int crdt_seal_key_id(const uint8_t *data, size_t len, uint32_t *id)
{
    if ((!data && len) || !id)
        return CRDT_ERR_INVALID_ARG;
    if (len == 0)
        return CRDT_ERR_DECODE;
    if (data[0] != CRDT_SEAL_FORMAT_1)
        return CRDT_ERR_VERSION;
    if (len < CRDT_SEAL_OVERHEAD)
        return CRDT_ERR_DECODE;
    *id = get_be32(data + ID_OFF);
    return CRDT_OK;
}

/* ====================================================================== */
/* The sealer                                                             */
/* ====================================================================== */

static const char *const reject_names[CRDT_SEAL_REJECT_REASONS] = {
    "malformed", "version", "oversize", "unknown_key", "auth", "plaintext"};

const char *crdt_seal_reject_name(int reason)
{
    if (reason < 0 || reason >= CRDT_SEAL_REJECT_REASONS)
        return NULL;
    return reject_names[reason];
}

void crdt_sealer_settings_default(crdt_sealer_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->version = CRDT_SEALER_SETTINGS_VERSION;
    s->max_sealed = CRDT_GOSSIP_DEFAULT_DATAGRAM + CRDT_SEAL_OVERHEAD;
}

int crdt_sealer_new(crdt_sealer **out, const crdt_keyring *kr,
                    const crdt_sealer_settings *settings, const crdt_mem *mem)
{
    crdt_sealer *s;
    crdt_mem m;

    if (!out || !kr || !settings ||
        settings->version != CRDT_SEALER_SETTINGS_VERSION ||
        settings->max_sealed <
            CRDT_GOSSIP_MIN_DATAGRAM + CRDT_SEAL_OVERHEAD ||
        settings->max_sealed >
            CRDT_GOSSIP_MAX_DATAGRAM + CRDT_SEAL_OVERHEAD ||
        (settings->send_plaintext && !settings->accept_plaintext))
        return CRDT_ERR_INVALID_ARG;
    crdtp_mem_set(&m, mem);
    s = crdtp_malloc(&m, sizeof *s);
    if (!s)
        return CRDT_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->tx = crdtp_malloc_array(&m, 2, settings->max_sealed);
    if (!s->tx) {
        crdtp_free(&m, s);
        return CRDT_ERR_NOMEM;
    }
    s->rx = s->tx + settings->max_sealed;
    s->mem = m;
    s->kr = kr;
    s->set = *settings;
    *out = s;
    return CRDT_OK;
}

void crdt_sealer_free(crdt_sealer *s)
{
    crdt_mem m;

    if (!s)
        return;
    m = s->mem;
    crdtp_free(&m, s->tx);
    crdtp_free(&m, s);
}

int crdt_sealer_set_keyring(crdt_sealer *s, const crdt_keyring *kr)
{
    if (!s || !kr)
        return CRDT_ERR_INVALID_ARG;
    s->kr = kr;
    return CRDT_OK;
}

size_t crdt_sealer_max_plaintext(const crdt_sealer *s)
{
    return s ? s->set.max_sealed - CRDT_SEAL_OVERHEAD : 0;
}

int crdt_sealer_seal(crdt_sealer *s, const uint8_t *data, size_t len,
                     uint8_t *out, size_t cap, size_t *outlen)
{
    int rv;

    if (!s)
        return CRDT_ERR_INVALID_ARG;
    if (s->set.send_plaintext) {
        if ((!data && len) || !out || !outlen) {
            rv = CRDT_ERR_INVALID_ARG;
        } else if (cap < len || len > s->set.max_sealed) {
            rv = CRDT_ERR_BUFFER;
        } else {
            if (len && out != data)
                memmove(out, data, len);
            *outlen = len;
            s->stats.sent_plaintext++;
            return CRDT_OK;
        }
    } else if (len > s->set.max_sealed - CRDT_SEAL_OVERHEAD) {
        rv = (!data || !out || !outlen) ? CRDT_ERR_INVALID_ARG
                                        : CRDT_ERR_BUFFER;
    } else {
        rv = crdt_seal(s->kr, s->set.cluster_id, data, len, out, cap, outlen);
        if (rv == CRDT_OK) {
            s->stats.sealed++;
            s->stats.sealed_bytes += *outlen;
            return CRDT_OK;
        }
    }
    s->stats.seal_failures++;
    return rv;
}

int crdt_sealer_send(void *sealer, uint64_t to, const uint8_t *addr,
                     size_t addrlen, const uint8_t *data, size_t len)
{
    crdt_sealer *s = sealer;
    size_t n;
    int rv;

    if (!s)
        return CRDT_ERR_INVALID_ARG;
    if (!s->set.send) {
        s->stats.seal_failures++;
        return CRDT_ERR_INVALID_ARG;
    }
    rv = crdt_sealer_seal(s, data, len, s->tx, s->set.max_sealed, &n);
    if (rv != CRDT_OK)
        return rv;
    rv = s->set.send(s->set.user_data, to, addr, addrlen, s->tx, n);
    if (rv != 0) {
        /* not sent after all */
        if (s->set.send_plaintext) {
            s->stats.sent_plaintext--;
        } else {
            s->stats.sealed--;
            s->stats.sealed_bytes -= n;
        }
        s->stats.seal_failures++;
    }
    return rv;
}

static int reject(crdt_sealer *s, int reason, size_t len, int rv)
{
    s->stats.rejected[reason]++;
    s->stats.rejected_bytes += len;
    return rv;
}

int crdt_sealer_open(crdt_sealer *s, const uint8_t *data, size_t len,
                     const uint8_t **plain, size_t *plainlen)
{
    const key_slot *k = NULL;
    int rv;

    if (!s || (!data && len) || !plain || !plainlen)
        return CRDT_ERR_INVALID_ARG;
    if (len > s->set.max_sealed)
        return reject(s, CRDT_SEAL_REJECT_OVERSIZE, len, CRDT_ERR_LIMIT);
    if (crdt_seal_is_plaintext(data, len)) {
        if (!s->set.accept_plaintext)
            return reject(s, CRDT_SEAL_REJECT_PLAINTEXT, len,
                          CRDT_ERR_VERSION);
        s->stats.accepted_plaintext++;
        *plain = data;
        *plainlen = len;
        return CRDT_OK;
    }
    rv = open_check(s->kr, data, len, &k);
    switch (rv) {
    case CRDT_OK:
        break;
    case CRDT_ERR_VERSION:
        return reject(s, CRDT_SEAL_REJECT_VERSION, len, rv);
    case CRDT_ERR_NOT_FOUND:
        return reject(s, CRDT_SEAL_REJECT_UNKNOWN_KEY, len, rv);
    default:
        return reject(s, CRDT_SEAL_REJECT_MALFORMED, len, rv);
    }
    /* len <= max_sealed: the plaintext fits the buffer */
    rv = open_into(k, s->set.cluster_id, data, len, s->rx, false);
    if (rv != CRDT_OK)
        return reject(s, CRDT_SEAL_REJECT_AUTH, len, rv);
    s->stats.opened++;
    s->stats.opened_bytes += len;
    *plain = s->rx;
    *plainlen = len - CRDT_SEAL_OVERHEAD;
    return CRDT_OK;
}

int crdt_sealer_receive(crdt_sealer *s, crdt_gossip *g, uint64_t now_ms,
                        const uint8_t *addr, size_t addrlen,
                        const uint8_t *data, size_t len)
{
    const uint8_t *p;
    size_t n;
    int rv;

    if (!s || !g || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    rv = crdt_sealer_open(s, data, len, &p, &n);
    if (rv != CRDT_OK)
        return CRDT_OK; /* rejected and counted */
    return crdt_gossip_receive(g, now_ms, addr, addrlen, p, n);
}

void crdt_sealer_stats_get(const crdt_sealer *s, crdt_sealer_stats *st)
{
    if (!st)
        return;
    if (!s) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = s->stats;
}
