/* EncryptionContainer sealing (TS 102 232-1 clause 7.3 and its encryption annex).
 *
 * The fast path of handover.encryption.PayloadEncryptor: writes
 *
 *     lead | header pieces | middle | AES-CBC(iv, block_head | payload pieces | zeros) | tail
 *
 * into one new bytes object per PDU. Python decides every octet of the layout; this file only
 * joins and encrypts, so its output is checked against the pure-Python path by the tests.
 *
 * seal() makes one PDU with OpenSSL (one cipher context kept per key, only the IV set per
 * PDU). seal_many() makes several: CBC cannot encrypt one PDU's blocks in parallel (each
 * needs the one before), but it can encrypt four PDUs side by side, one AES-NI pipeline per
 * PDU, which is about three times the single-chain speed. That path, "lanes", is AES-256
 * only, on x86-64 CPUs with AES-NI; elsewhere seal_many() seals one PDU after another.
 *
 * Keys: the key octets go straight into OpenSSL's key schedule; the lanes keep their own copy
 * of the AES-256 encryption schedule, which is cleansed (with OpenSSL's) when the Sealer is
 * collected or given a new key.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_LANES 1
#else
#define HAVE_LANES 0
#endif

#define BLOCK 16
/* above this many octets to encrypt, other threads may run while the cipher works */
#define RELEASE_GIL_AT 8192
/* the EncryptedPayload's octets before the Payload's: SEQUENCE, byteCounter, payload [1] */
#define MAX_HEAD 64
/* AES-256: 14 rounds, 15 round keys */
#define ROUND_KEYS 15

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
    int busy;            /* a seal() is running with the GIL released */
    int repeat_sequence; /* IV rule: the sequence number four times (else zero) */
    int lanes;           /* round_keys hold the AES-256 schedule: seal_many() uses lanes */
    unsigned char round_keys[ROUND_KEYS * BLOCK];
} Sealer;

/* One PDU's part to encrypt, in place in its bytes object. */
typedef struct {
    unsigned char *data;
    Py_ssize_t len; /* whole blocks */
    unsigned char iv[BLOCK];
} Job;

#if HAVE_LANES
/* The AES-256 encryption key schedule (FIPS 197 clause 5.2) with AESKEYGENASSIST. */
__attribute__((target("aes,sse2"))) static __m128i
next_even(__m128i previous, __m128i assist)
{
    previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 4));
    previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 8));
    return _mm_xor_si128(previous, _mm_shuffle_epi32(assist, 0xff));
}

__attribute__((target("aes,sse2"))) static __m128i
next_odd(__m128i previous, __m128i even)
{
    __m128i assist = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(even, 0), 0xaa);
    previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 4));
    previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 8));
    return _mm_xor_si128(previous, assist);
}

#define EXPAND(i, rcon)                                                                    \
    even = next_even(even, _mm_aeskeygenassist_si128(odd, rcon));                          \
    _mm_storeu_si128((__m128i *)(out + (i) * BLOCK), even);                                \
    if ((i) + 1 < ROUND_KEYS) {                                                            \
        odd = next_odd(odd, even);                                                         \
        _mm_storeu_si128((__m128i *)(out + ((i) + 1) * BLOCK), odd);                       \
    }

__attribute__((target("aes,sse2"))) static void
expand_256(const unsigned char *key, unsigned char *out)
{
    __m128i even = _mm_loadu_si128((const __m128i *)key);
    __m128i odd = _mm_loadu_si128((const __m128i *)(key + BLOCK));
    _mm_storeu_si128((__m128i *)out, even);
    _mm_storeu_si128((__m128i *)(out + BLOCK), odd);
    EXPAND(2, 0x01) EXPAND(4, 0x02) EXPAND(6, 0x04) EXPAND(8, 0x08)
    EXPAND(10, 0x10) EXPAND(12, 0x20) EXPAND(14, 0x40)
}

/* The schedule into registers, once per call of a CBC loop. */
__attribute__((target("aes,sse2"))) static void
load_round_keys(const unsigned char *rk, __m128i k[ROUND_KEYS])
{
    int r;
    for (r = 0; r < ROUND_KEYS; r++)
        k[r] = _mm_loadu_si128((const __m128i *)(rk + r * BLOCK));
}

/* CBC over one lane's blocks from *chain (updated). */
__attribute__((target("aes,sse2"))) static void
cbc_one(const unsigned char *rk, unsigned char *data, Py_ssize_t blocks, __m128i *chain)
{
    __m128i k[ROUND_KEYS], x = *chain;
    Py_ssize_t b;
    int r;
    load_round_keys(rk, k);
    for (b = 0; b < blocks; b++) {
        x = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128((const __m128i *)data), x), k[0]);
        for (r = 1; r < ROUND_KEYS - 1; r++)
            x = _mm_aesenc_si128(x, k[r]);
        x = _mm_aesenclast_si128(x, k[ROUND_KEYS - 1]);
        _mm_storeu_si128((__m128i *)data, x);
        data += BLOCK;
    }
    *chain = x;
}

/* CBC over four lanes at once, ``blocks`` blocks each, from chain[] (updated). */
__attribute__((target("aes,sse2"))) static void
cbc_four(const unsigned char *rk, unsigned char *data[4], Py_ssize_t blocks, __m128i chain[4])
{
    __m128i k[ROUND_KEYS], a = chain[0], b = chain[1], c = chain[2], d = chain[3];
    unsigned char *p0 = data[0], *p1 = data[1], *p2 = data[2], *p3 = data[3];
    Py_ssize_t i;
    int r;
    load_round_keys(rk, k);
    for (i = 0; i < blocks; i++) {
        a = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128((const __m128i *)p0), a), k[0]);
        b = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128((const __m128i *)p1), b), k[0]);
        c = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128((const __m128i *)p2), c), k[0]);
        d = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128((const __m128i *)p3), d), k[0]);
        for (r = 1; r < ROUND_KEYS - 1; r++) {
            a = _mm_aesenc_si128(a, k[r]);
            b = _mm_aesenc_si128(b, k[r]);
            c = _mm_aesenc_si128(c, k[r]);
            d = _mm_aesenc_si128(d, k[r]);
        }
        a = _mm_aesenclast_si128(a, k[ROUND_KEYS - 1]);
        b = _mm_aesenclast_si128(b, k[ROUND_KEYS - 1]);
        c = _mm_aesenclast_si128(c, k[ROUND_KEYS - 1]);
        d = _mm_aesenclast_si128(d, k[ROUND_KEYS - 1]);
        _mm_storeu_si128((__m128i *)p0, a);
        _mm_storeu_si128((__m128i *)p1, b);
        _mm_storeu_si128((__m128i *)p2, c);
        _mm_storeu_si128((__m128i *)p3, d);
        p0 += BLOCK, p1 += BLOCK, p2 += BLOCK, p3 += BLOCK;
    }
    chain[0] = a, chain[1] = b, chain[2] = c, chain[3] = d;
}

/* Every job, four at a time side by side for their common length, the rest one by one. */
__attribute__((target("aes,sse2"))) static void
cbc_lanes(const unsigned char *rk, Job *jobs, Py_ssize_t n)
{
    Py_ssize_t at = 0, i, common;
    for (; at + 4 <= n; at += 4) {
        unsigned char *data[4];
        __m128i chain[4];
        common = jobs[at].len;
        for (i = 0; i < 4; i++) {
            data[i] = jobs[at + i].data;
            chain[i] = _mm_loadu_si128((const __m128i *)jobs[at + i].iv);
            if (jobs[at + i].len < common)
                common = jobs[at + i].len;
        }
        cbc_four(rk, data, common / BLOCK, chain);
        for (i = 0; i < 4; i++)
            cbc_one(rk, jobs[at + i].data + common, (jobs[at + i].len - common) / BLOCK,
                    &chain[i]);
    }
    for (; at < n; at++) {
        __m128i chain = _mm_loadu_si128((const __m128i *)jobs[at].iv);
        cbc_one(rk, jobs[at].data, jobs[at].len / BLOCK, &chain);
    }
}

static int
cpu_has_aes(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes");
}
#endif

static int
Sealer_init(Sealer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", "repeat_sequence", "lanes", NULL};
    Py_buffer key;
    int repeat_sequence = 1, lanes = 1;
    const EVP_CIPHER *cipher;
    int ok;

    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Sealer is in use");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|pp", kwlist, &key, &repeat_sequence,
                                     &lanes))
        return -1;
    if (key.len == 24)
        cipher = EVP_aes_192_cbc();
    else if (key.len == 32)
        cipher = EVP_aes_256_cbc();
    else {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "AES-CBC key must be 24 or 32 octets");
        return -1;
    }
    if (self->ctx == NULL)
        self->ctx = EVP_CIPHER_CTX_new();
    ok = self->ctx != NULL
         && EVP_EncryptInit_ex(self->ctx, cipher, NULL, (const unsigned char *)key.buf, NULL)
         && EVP_CIPHER_CTX_set_padding(self->ctx, 0);
    OPENSSL_cleanse(self->round_keys, sizeof(self->round_keys));
    self->lanes = 0;
#if HAVE_LANES
    if (ok && lanes && key.len == 32 && cpu_has_aes()) {
        expand_256((const unsigned char *)key.buf, self->round_keys);
        self->lanes = 1;
    }
#endif
    PyBuffer_Release(&key);
    self->repeat_sequence = repeat_sequence;
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not set up AES-CBC");
        return -1;
    }
    return 0;
}

static void
Sealer_dealloc(Sealer *self)
{
    EVP_CIPHER_CTX_free(self->ctx);
    OPENSSL_cleanse(self->round_keys, sizeof(self->round_keys));
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Sum of the lengths of a tuple of bytes; -1 with an exception when an item is not bytes. */
static Py_ssize_t
pieces_length(PyObject *pieces)
{
    Py_ssize_t total = 0, i, n = PyTuple_GET_SIZE(pieces);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(pieces, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "pieces must be bytes");
            return -1;
        }
        total += PyBytes_GET_SIZE(item);
    }
    return total;
}

static unsigned char *
copy_pieces(unsigned char *out, PyObject *pieces)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(pieces);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(pieces, i);
        memcpy(out, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item));
        out += PyBytes_GET_SIZE(item);
    }
    return out;
}

/* BER definite length octets of n (X.690 8.1.3, fewest octets) into out; returns their count. */
static Py_ssize_t
put_length(unsigned char *out, Py_ssize_t n)
{
    int size = 0, i;
    if (n < 0x80) {
        out[0] = (unsigned char)n;
        return 1;
    }
    for (Py_ssize_t rest = n; rest; rest >>= 8)
        size++;
    out[0] = (unsigned char)(0x80 | size);
    for (i = 0; i < size; i++)
        out[size - i] = (unsigned char)(n >> (8 * i));
    return 1 + size;
}

/* One PDU laid out from seal()'s five arguments, its part to encrypt still clear; that part
 * and its IV go to *job. NULL with an exception when an argument is wrong. */
static PyObject *
lay_out(Sealer *self, PyObject *const *args, Job *job)
{
    PyObject *header, *layout, *payload, *before, *after, *middle, *tail, *result;
    unsigned long sequence;
    unsigned long long counter;
    unsigned char lead[16], *out, *sealed, *at;
    long counter_len, padding;
    Py_ssize_t header_len, payload_len, head_len, clear_len, cipher_len, content, lead_len, i;

    sequence = PyLong_AsUnsignedLong(args[0]);
    if (sequence == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    counter = PyLong_AsUnsignedLongLong(args[1]);
    if (counter == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    header = args[2], layout = args[3], payload = args[4];
    if (sequence > 0xFFFFFFFFUL || !PyTuple_Check(header) || !PyTuple_Check(payload)
        || !PyTuple_Check(layout) || PyTuple_GET_SIZE(layout) != 6) {
        PyErr_SetString(PyExc_ValueError, "seal() arguments: see its doc");
        return NULL;
    }
    before = PyTuple_GET_ITEM(layout, 0), after = PyTuple_GET_ITEM(layout, 2);
    middle = PyTuple_GET_ITEM(layout, 4), tail = PyTuple_GET_ITEM(layout, 5);
    counter_len = PyLong_AsLong(PyTuple_GET_ITEM(layout, 1));
    padding = counter_len == -1 && PyErr_Occurred() ? -1 : PyLong_AsLong(PyTuple_GET_ITEM(layout, 3));
    if (PyErr_Occurred())
        return NULL;
    if (!PyBytes_Check(before) || !PyBytes_Check(after) || !PyBytes_Check(middle)
        || !PyBytes_Check(tail) || counter_len < 1 || counter_len > 9 || padding < 0
        || padding >= BLOCK || (counter_len < 8 && counter >> (8 * counter_len))) {
        PyErr_SetString(PyExc_ValueError, "seal() layout: see its doc");
        return NULL;
    }
    header_len = pieces_length(header);
    payload_len = header_len < 0 ? -1 : pieces_length(payload);
    if (payload_len < 0)
        return NULL;
    head_len = PyBytes_GET_SIZE(before) + counter_len + PyBytes_GET_SIZE(after);
    if (head_len > MAX_HEAD) {
        PyErr_SetString(PyExc_ValueError, "seal() layout: EncryptedPayload head too long");
        return NULL;
    }
    clear_len = head_len + payload_len;
    cipher_len = clear_len + padding;
    if (cipher_len % BLOCK || clear_len > INT_MAX - BLOCK) {
        PyErr_SetString(PyExc_ValueError, "the encrypted part must be whole AES blocks");
        return NULL;
    }
    memset(job->iv, 0, BLOCK);
    if (self->repeat_sequence)
        for (i = 0; i < BLOCK; i += 4) {
            job->iv[i] = (unsigned char)(sequence >> 24);
            job->iv[i + 1] = (unsigned char)(sequence >> 16);
            job->iv[i + 2] = (unsigned char)(sequence >> 8), job->iv[i + 3] = (unsigned char)sequence;
        }
    content = header_len + PyBytes_GET_SIZE(middle) + cipher_len + PyBytes_GET_SIZE(tail);
    lead[0] = 0x30;
    lead_len = 1 + put_length(lead + 1, content);
    result = PyBytes_FromStringAndSize(NULL, lead_len + content);
    if (result == NULL)
        return NULL;
    out = (unsigned char *)PyBytes_AS_STRING(result);
    memcpy(out, lead, lead_len);
    out = copy_pieces(out + lead_len, header);
    memcpy(out, PyBytes_AS_STRING(middle), PyBytes_GET_SIZE(middle));
    sealed = out + PyBytes_GET_SIZE(middle);
    /* the clear EncryptedPayload: before | byteCounter | after | payload | zero padding */
    memcpy(sealed, PyBytes_AS_STRING(before), PyBytes_GET_SIZE(before));
    at = sealed + PyBytes_GET_SIZE(before);
    for (i = 0; i < counter_len; i++)
        at[counter_len - 1 - i] = i < 8 ? (unsigned char)(counter >> (8 * i)) : 0;
    at += counter_len;
    memcpy(at, PyBytes_AS_STRING(after), PyBytes_GET_SIZE(after));
    at = copy_pieces(at + PyBytes_GET_SIZE(after), payload);
    memset(at, 0, padding);
    memcpy(sealed + cipher_len, PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail));
    job->data = sealed, job->len = cipher_len;
    return result;
}

/* Encrypts every job in place (the GIL may be released). 0 on an OpenSSL failure. */
static int
encrypt_jobs(Sealer *self, Job *jobs, Py_ssize_t n)
{
    Py_ssize_t i;
    int written;
#if HAVE_LANES
    if (self->lanes && n > 1) {
        cbc_lanes(self->round_keys, jobs, n);
        return 1;
    }
#endif
    for (i = 0; i < n; i++) {
        if (!EVP_EncryptInit_ex(self->ctx, NULL, NULL, NULL, jobs[i].iv)
            || !EVP_EncryptUpdate(self->ctx, jobs[i].data, &written, jobs[i].data,
                                  (int)jobs[i].len)
            || !EVP_EncryptFinal_ex(self->ctx, jobs[i].data + written, &written) || written)
            return 0;
    }
    return 1;
}

/* Encrypts the jobs, without the GIL when they are large; False with an exception. */
static int
run_jobs(Sealer *self, Job *jobs, Py_ssize_t n, Py_ssize_t octets)
{
    int ok;
    if (octets >= RELEASE_GIL_AT) {
        self->busy = 1; /* set and checked with the GIL held */
        Py_BEGIN_ALLOW_THREADS
        ok = encrypt_jobs(self, jobs, n);
        Py_END_ALLOW_THREADS
        self->busy = 0;
    }
    else
        ok = encrypt_jobs(self, jobs, n);
    if (!ok)
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL AES-CBC failed");
    return ok;
}

static int
check_usable(Sealer *self)
{
    if (self->ctx == NULL || self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        self->ctx == NULL ? "Sealer has no key" : "Sealer is in use by another thread");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(seal_doc,
"seal(sequence_number, counter, header, layout, payload) -> bytes\n\n"
"One PS-PDU: SEQUENCE { *header, middle, AES-CBC(iv, before | counter | after | *payload |\n"
"zeros), tail } where layout = (before, counter_octets, after, padding, middle, tail): the\n"
"byteCounter is written in its last counter_octets octets, big-endian; padding zero octets make\n"
"the encrypted part whole blocks. The IV is the 32-bit sequence_number four times, or zero\n"
"(the Sealer's rule). header, payload: tuples of bytes.");

static PyObject *
Sealer_seal(Sealer *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *result;
    Job job;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "seal() takes 5 arguments");
        return NULL;
    }
    if (!check_usable(self))
        return NULL;
    result = lay_out(self, args, &job);
    if (result != NULL && !run_jobs(self, &job, 1, job.len))
        Py_CLEAR(result);
    return result;
}

PyDoc_STRVAR(seal_many_doc,
"seal_many(jobs) -> list[bytes]\n\n"
"seal() of each job, a tuple of its five arguments, in order: the same octets, several PDUs\n"
"encrypted side by side (AES-256 with AES-NI; one after another otherwise).");

static PyObject *
Sealer_seal_many(Sealer *self, PyObject *arg)
{
    PyObject *jobs, *out = NULL;
    Job *laid = NULL;
    Py_ssize_t n, i, octets = 0;

    if (!check_usable(self))
        return NULL;
    jobs = PySequence_Fast(arg, "seal_many() takes a sequence of jobs");
    if (jobs == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(jobs);
    laid = PyMem_New(Job, n > 0 ? n : 1);
    out = laid == NULL ? NULL : PyList_New(n);
    if (out == NULL) {
        if (laid == NULL)
            PyErr_NoMemory();
        goto fail;
    }
    for (i = 0; i < n; i++) {
        PyObject *job = PySequence_Fast_GET_ITEM(jobs, i), *pdu;
        if (!PyTuple_Check(job) || PyTuple_GET_SIZE(job) != 5) {
            PyErr_SetString(PyExc_ValueError, "a seal_many() job is seal()'s five arguments");
            goto fail;
        }
        pdu = lay_out(self, ((PyTupleObject *)job)->ob_item, &laid[i]);
        if (pdu == NULL)
            goto fail;
        PyList_SET_ITEM(out, i, pdu);
        octets += laid[i].len;
    }
    if (!run_jobs(self, laid, n, octets))
        goto fail;
    PyMem_Free(laid);
    Py_DECREF(jobs);
    return out;
fail:
    PyMem_Free(laid);
    Py_XDECREF(out);
    Py_DECREF(jobs);
    return NULL;
}

static PyMethodDef Sealer_methods[] = {
    {"seal", (PyCFunction)(void (*)(void))Sealer_seal, METH_FASTCALL, seal_doc},
    {"seal_many", (PyCFunction)Sealer_seal_many, METH_O, seal_many_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SealerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lawful_intercept.handover._seal.Sealer",
    .tp_doc = PyDoc_STR("AES-CBC (192 or 256) sealer of EncryptionContainers, one per key."),
    .tp_basicsize = sizeof(Sealer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sealer_init,
    .tp_dealloc = (destructor)Sealer_dealloc,
    .tp_methods = Sealer_methods,
};

static struct PyModuleDef seal_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.handover._seal",
    .m_doc = PyDoc_STR("Native EncryptionContainer sealing (see handover.encryption)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__seal(void)
{
    PyObject *module;
    if (PyType_Ready(&SealerType) < 0)
        return NULL;
    module = PyModule_Create(&seal_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&SealerType);
    if (PyModule_AddObject(module, "Sealer", (PyObject *)&SealerType) < 0) {
        Py_DECREF(&SealerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
