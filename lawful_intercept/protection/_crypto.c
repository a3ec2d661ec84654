/* The protection layer's native helpers, both through OpenSSL's EVP interface only.
 *
 * Sealer: EncryptionContainer sealing (TS 102 232-1 clause 7.3 and annex G), the fast path of
 * protection.encryption.PayloadEncryptor. It writes
 *
 *     lead | header pieces | middle | AES-CBC(iv, block_head | payload pieces | zeros) | tail
 *
 * into one new bytes object per PDU. Python decides every octet of the layout; this file only
 * joins and encrypts, so its output is checked against the pure-Python path by the tests. One
 * cipher context is kept per key; only the IV is set per PDU.
 *
 * RowSealer: the durable queue's rows (protection.sealing) with AES-256-GCM:
 *
 *     seal(nonce, aad, records) -> nonce | AES-GCM(len(r1) | r1 | len(r2) | r2 ...) | tag
 *     open(sealed, aad)         -> the plain text, or None if the tag does not verify
 *
 * Lengths are 4 octets, big-endian; the tag is 16 octets: the octets of cryptography's AESGCM
 * (nonce + AESGCM(key).encrypt(nonce, joined records, aad)), which the tests check both ways.
 * Joining the records, the cipher and the page faults of a fresh buffer run with the GIL
 * released, so an MF's event loop goes on mediating while its store thread seals a commit.
 *
 * Rules (docs/architecture.md, native code policy): no Python object is touched while the GIL
 * is released (what the cipher needs is copied into C structures first, and the objects that
 * own those buffers are held by strong references); no borrowed reference is held across a
 * call that can run Python code (integers must be exact ints, so no __index__ runs, and job
 * lists are copied into tuples first); key octets go straight into OpenSSL's key schedule and
 * EVP_CIPHER_CTX_free cleanses it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define BLOCK 16
/* above this many octets to encrypt, other threads may run while the cipher works */
#define RELEASE_GIL_AT 8192
/* the EncryptedPayload's octets before the Payload's: SEQUENCE, byteCounter, payload [1] */
#define MAX_HEAD 64
#define NONCE 12
#define TAG 16
#define PREFIX 4

/* An exact int's value, or -1 with an exception (a subclass or another type is refused: its
 * __index__ could run Python code while the caller holds borrowed references). */
static int
exact_int(PyObject *value, const char *what)
{
    if (!PyLong_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int", what);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Sealer: EncryptionContainer AES-CBC                                                          */

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
    int busy;            /* a seal is running with the GIL released */
    int repeat_sequence; /* IV rule: the sequence number four times (else zero) */
} Sealer;

/* One PDU's part to encrypt, in place in its (new, not yet shared) bytes object. */
typedef struct {
    unsigned char *data;
    Py_ssize_t len; /* whole blocks */
    unsigned char iv[BLOCK];
} Job;

static int
Sealer_init(Sealer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", "repeat_sequence", NULL};
    Py_buffer key;
    int repeat_sequence = 1;
    const EVP_CIPHER *cipher;
    int ok;

    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Sealer is in use");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|p", kwlist, &key, &repeat_sequence))
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
    EVP_CIPHER_CTX_free(self->ctx); /* cleanses the key schedule */
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

    if (exact_int(args[0], "sequence_number") < 0 || exact_int(args[1], "counter") < 0)
        return NULL;
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
    if (exact_int(PyTuple_GET_ITEM(layout, 1), "counter_octets") < 0
        || exact_int(PyTuple_GET_ITEM(layout, 3), "padding") < 0)
        return NULL;
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

/* Encrypts every job in place, one after another (the GIL may be released: only the jobs'
 * C fields are read). 0 on an OpenSSL failure. */
static int
encrypt_jobs(Sealer *self, Job *jobs, Py_ssize_t n)
{
    Py_ssize_t i;
    int written;
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
"seal() of each job, a tuple of its five arguments, in order: the same octets, the cipher\n"
"run once for the whole batch (without the GIL when it is large).");

static PyObject *
Sealer_seal_many(Sealer *self, PyObject *arg)
{
    PyObject *jobs, *out = NULL;
    Job *laid = NULL;
    Py_ssize_t n, i, octets = 0;

    if (!check_usable(self))
        return NULL;
    if (!PyList_Check(arg) && !PyTuple_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "seal_many() takes a list or tuple of jobs");
        return NULL;
    }
    jobs = PySequence_Tuple(arg); /* our own tuple: nothing can change it under us */
    if (jobs == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(jobs);
    laid = PyMem_New(Job, n > 0 ? n : 1);
    out = laid == NULL ? NULL : PyList_New(n);
    if (out == NULL) {
        if (laid == NULL)
            PyErr_NoMemory();
        goto fail;
    }
    for (i = 0; i < n; i++) {
        PyObject *job = PyTuple_GET_ITEM(jobs, i), *pdu;
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
    .tp_name = "lawful_intercept.protection._crypto.Sealer",
    .tp_doc = PyDoc_STR("AES-CBC (192 or 256) sealer of EncryptionContainers, one per key."),
    .tp_basicsize = sizeof(Sealer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sealer_init,
    .tp_dealloc = (destructor)Sealer_dealloc,
    .tp_methods = Sealer_methods,
};

/* ------------------------------------------------------------------------------------------ */
/* RowSealer: queue rows, AES-256-GCM                                                           */

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx; /* keyed; never used itself: each call copies it */
} RowSealer;

static int
RowSealer_init(RowSealer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", NULL};
    Py_buffer key;
    int ok;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*", kwlist, &key))
        return -1;
    if (key.len != 32) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "AES-256-GCM key must be 32 octets");
        return -1;
    }
    if (self->ctx == NULL)
        self->ctx = EVP_CIPHER_CTX_new();
    ok = self->ctx != NULL
         && EVP_EncryptInit_ex(self->ctx, EVP_aes_256_gcm(), NULL,
                               (const unsigned char *)key.buf, NULL);
    PyBuffer_Release(&key);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not set up AES-256-GCM");
        return -1;
    }
    return 0;
}

static void
RowSealer_dealloc(RowSealer *self)
{
    EVP_CIPHER_CTX_free(self->ctx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A call's own copy of the keyed context (GIL held); NULL with an exception. */
static EVP_CIPHER_CTX *
call_context(RowSealer *self)
{
    EVP_CIPHER_CTX *ctx;

    if (self->ctx == NULL) {
        PyErr_SetString(PyExc_ValueError, "RowSealer is closed");
        return NULL;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || !EVP_CIPHER_CTX_copy(ctx, self->ctx)) {
        EVP_CIPHER_CTX_free(ctx);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not copy the AES-GCM context");
        return NULL;
    }
    return ctx;
}

/* A record's octets, taken from its bytes object with the GIL held. */
typedef struct {
    const char *octets;
    Py_ssize_t size;
} Piece;

/* Writes nonce | records, length-prefixed | tag into out, encrypting the records in place.
 * Runs without the GIL: it reads only the pieces (whose bytes objects the caller holds) and
 * writes only out (a new bytes object nobody else has yet). 1 on success. */
static int
seal_into(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *nonce,
          const unsigned char *aad, int aad_len, const Piece *pieces, Py_ssize_t n, int total)
{
    unsigned char *body = out + NONCE, *at = body;
    Py_ssize_t i;
    int written;

    memcpy(out, nonce, NONCE);
    for (i = 0; i < n; i++) {
        Py_ssize_t size = pieces[i].size;
        at[0] = (unsigned char)(size >> 24), at[1] = (unsigned char)(size >> 16);
        at[2] = (unsigned char)(size >> 8), at[3] = (unsigned char)size;
        memcpy(at + PREFIX, pieces[i].octets, (size_t)size);
        at += PREFIX + size;
    }
    if (!EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce))
        return 0;
    if (aad_len > 0 && !EVP_EncryptUpdate(ctx, NULL, &written, aad, aad_len))
        return 0;
    if (!EVP_EncryptUpdate(ctx, body, &written, body, total) || written != total)
        return 0;
    if (!EVP_EncryptFinal_ex(ctx, body + total, &written) || written != 0)
        return 0;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, body + total) > 0;
}

PyDoc_STRVAR(row_seal_doc,
"seal(nonce, aad, records) -> bytes\n\n"
"nonce (12 octets) | AES-256-GCM of each record after its 4-octet big-endian length | tag\n"
"(16 octets), with aad as associated data. records: a sequence of bytes.");

static PyObject *
RowSealer_seal(RowSealer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer nonce = {0}, aad = {0};
    PyObject *records = NULL, *result = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    Piece *pieces = NULL;
    unsigned char *out;
    Py_ssize_t i, n, total = 0;
    int ok;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "seal() takes nonce, aad and records");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &nonce, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &aad, PyBUF_SIMPLE) < 0)
        goto done;
    if (nonce.len != NONCE || aad.len > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "seal() needs a 12-octet nonce and a shorter aad");
        goto done;
    }
    records = PySequence_Tuple(args[2]); /* holds the records while the GIL is released */
    if (records == NULL)
        goto done;
    n = PyTuple_GET_SIZE(records);
    pieces = PyMem_New(Piece, n > 0 ? n : 1);
    if (pieces == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        if (!PyBytes_Check(record)) {
            PyErr_SetString(PyExc_TypeError, "records must be bytes");
            goto done;
        }
        if (PyBytes_GET_SIZE(record) > INT_MAX - NONCE - TAG - PREFIX - total) {
            PyErr_SetString(PyExc_ValueError, "records too long for one row");
            goto done;
        }
        pieces[i].octets = PyBytes_AS_STRING(record);
        pieces[i].size = PyBytes_GET_SIZE(record);
        total += PREFIX + pieces[i].size;
    }
    ctx = call_context(self);
    if (ctx == NULL)
        goto done;
    result = PyBytes_FromStringAndSize(NULL, NONCE + total + TAG);
    if (result == NULL)
        goto done;
    out = (unsigned char *)PyBytes_AS_STRING(result); /* taken with the GIL held */
    Py_BEGIN_ALLOW_THREADS
    ok = seal_into(ctx, out,
                   (const unsigned char *)nonce.buf, (const unsigned char *)aad.buf,
                   (int)aad.len, pieces, n, (int)total);
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL AES-GCM sealing failed");
    }
done:
    EVP_CIPHER_CTX_free(ctx);
    PyMem_Free(pieces);
    Py_XDECREF(records);
    if (aad.obj != NULL)
        PyBuffer_Release(&aad);
    PyBuffer_Release(&nonce);
    return result;
}

/* Decrypts body into out and checks the tag. Runs without the GIL. 1: authentic; 0: not;
 * -1: OpenSSL failed. */
static int
open_into(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *sealed, int plain_len,
          const unsigned char *aad, int aad_len)
{
    unsigned char tag[TAG], end[TAG];
    int written;

    memcpy(tag, sealed + NONCE + plain_len, TAG);
    if (!EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, sealed))
        return -1;
    if (aad_len > 0 && !EVP_DecryptUpdate(ctx, NULL, &written, aad, aad_len))
        return -1;
    if (plain_len > 0 && !EVP_DecryptUpdate(ctx, out, &written, sealed + NONCE, plain_len))
        return -1;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag))
        return -1;
    return EVP_DecryptFinal_ex(ctx, end, &written) > 0;
}

PyDoc_STRVAR(row_open_doc,
"open(sealed, aad) -> bytes | None\n\n"
"The plain text of what seal() made with this key and aad; None if it does not authenticate\n"
"(tampered, cut, moved to another aad, or sealed under another key).");

static PyObject *
RowSealer_open(RowSealer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer sealed = {0}, aad = {0};
    PyObject *result = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *out;
    Py_ssize_t plain_len;
    int ok;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "open() takes sealed and aad");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &sealed, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &aad, PyBUF_SIMPLE) < 0)
        goto done;
    plain_len = sealed.len - NONCE - TAG;
    if (plain_len < 0) { /* too short to hold a nonce and a tag: cannot authenticate */
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (plain_len > INT_MAX || aad.len > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "open() input too long");
        goto done;
    }
    ctx = call_context(self);
    if (ctx == NULL)
        goto done;
    result = PyBytes_FromStringAndSize(NULL, plain_len);
    if (result == NULL)
        goto done;
    out = (unsigned char *)PyBytes_AS_STRING(result); /* taken with the GIL held */
    Py_BEGIN_ALLOW_THREADS
    ok = open_into(ctx, out,
                   (const unsigned char *)sealed.buf, (int)plain_len,
                   (const unsigned char *)aad.buf, (int)aad.len);
    Py_END_ALLOW_THREADS
    if (ok != 1) {
        OPENSSL_cleanse(PyBytes_AS_STRING(result), (size_t)plain_len); /* unauthenticated */
        Py_DECREF(result);
        if (ok < 0) {
            result = NULL;
            PyErr_SetString(PyExc_RuntimeError, "OpenSSL AES-GCM opening failed");
        }
        else
            result = Py_NewRef(Py_None);
    }
done:
    EVP_CIPHER_CTX_free(ctx);
    if (aad.obj != NULL)
        PyBuffer_Release(&aad);
    PyBuffer_Release(&sealed);
    return result;
}

static PyObject *
RowSealer_close(RowSealer *self, PyObject *Py_UNUSED(ignored))
{
    EVP_CIPHER_CTX_free(self->ctx); /* cleanses the key schedule */
    self->ctx = NULL;
    Py_RETURN_NONE;
}

static PyMethodDef RowSealer_methods[] = {
    {"seal", (PyCFunction)(void (*)(void))RowSealer_seal, METH_FASTCALL, row_seal_doc},
    {"open", (PyCFunction)(void (*)(void))RowSealer_open, METH_FASTCALL, row_open_doc},
    {"close", (PyCFunction)RowSealer_close, METH_NOARGS,
     PyDoc_STR("Forget the key (OpenSSL cleanses its schedule); later calls raise.")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RowSealerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lawful_intercept.protection._crypto.RowSealer",
    .tp_doc = PyDoc_STR("AES-256-GCM sealing of queue rows under one key, outside the GIL."),
    .tp_basicsize = sizeof(RowSealer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RowSealer_init,
    .tp_dealloc = (destructor)RowSealer_dealloc,
    .tp_methods = RowSealer_methods,
};

/* ------------------------------------------------------------------------------------------ */

static struct PyModuleDef crypto_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.protection._crypto",
    .m_doc = PyDoc_STR("Native sealing through OpenSSL EVP (see protection.encryption and "
                       "protection.sealing)."),
    .m_size = -1,
};

static int
add_type(PyObject *module, PyTypeObject *type, const char *name)
{
    if (PyType_Ready(type) < 0)
        return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC
PyInit__crypto(void)
{
    PyObject *module = PyModule_Create(&crypto_module);
    if (module == NULL)
        return NULL;
    if (add_type(module, &SealerType, "Sealer") < 0
        || add_type(module, &RowSealerType, "RowSealer") < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
