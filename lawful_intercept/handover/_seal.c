/* EncryptionContainer sealing in one call (TS 102 232-1 clause 7.3 and its encryption annex).
 *
 * The per-PDU fast path of handover.encryption.PayloadEncryptor: writes
 *
 *     lead | header pieces | middle | AES-CBC(iv, block_head | payload pieces | zeros) | tail
 *
 * into one new bytes object, with one OpenSSL cipher context kept per key (only the IV is
 * set per PDU). Python decides every octet of the layout; this file only joins and encrypts,
 * so its output is checked against the pure-Python path by the test suite.
 *
 * Keys: the key octets go straight into OpenSSL's key schedule (never copied here);
 * EVP_CIPHER_CTX_free cleanses that schedule when the Sealer is collected or closed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>

#define BLOCK 16
/* above this many octets to encrypt, other threads may run while the cipher works */
#define RELEASE_GIL_AT 8192
/* the EncryptedPayload's octets before the Payload's: SEQUENCE, byteCounter, payload [1] */
#define MAX_HEAD 64

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
    int busy;            /* a seal() is running with the GIL released */
    int repeat_sequence; /* IV rule: the sequence number four times (else zero) */
} Sealer;

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
    EVP_CIPHER_CTX_free(self->ctx);
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

static char *
copy_pieces(char *out, PyObject *pieces)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(pieces);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(pieces, i);
        memcpy(out, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item));
        out += PyBytes_GET_SIZE(item);
    }
    return out;
}

/* CBC over the pieces, in order, into out; returns 0 on an OpenSSL failure. */
static int
encrypt_pieces(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *block_head,
               Py_ssize_t head_len, PyObject *payload, int padding)
{
    static const unsigned char zeros[BLOCK] = {0};
    int written;
    Py_ssize_t i, n = PyTuple_GET_SIZE(payload);

    if (!EVP_EncryptUpdate(ctx, out, &written, block_head, (int)head_len))
        return 0;
    out += written;
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(payload, i);
        if (!EVP_EncryptUpdate(ctx, out, &written, (const unsigned char *)PyBytes_AS_STRING(item),
                               (int)PyBytes_GET_SIZE(item)))
            return 0;
        out += written;
    }
    if (padding && !EVP_EncryptUpdate(ctx, out, &written, zeros, padding))
        return 0;
    out += written;
    return EVP_EncryptFinal_ex(ctx, out, &written) && written == 0;
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
    PyObject *header, *layout, *payload, *before, *after, *middle, *tail, *result;
    unsigned long sequence;
    unsigned long long counter;
    unsigned char iv[BLOCK] = {0}, lead[16], block_head[MAX_HEAD], *out, *sealed;
    long counter_len, padding;
    Py_ssize_t header_len, payload_len, head_len, clear_len, cipher_len, content, lead_len, i;
    int ok;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "seal() takes 5 arguments");
        return NULL;
    }
    if (self->ctx == NULL || self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        self->ctx == NULL ? "Sealer has no key" : "Sealer is in use by another thread");
        return NULL;
    }
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
    if (self->repeat_sequence)
        for (i = 0; i < BLOCK; i += 4) {
            iv[i] = (unsigned char)(sequence >> 24), iv[i + 1] = (unsigned char)(sequence >> 16);
            iv[i + 2] = (unsigned char)(sequence >> 8), iv[i + 3] = (unsigned char)sequence;
        }
    if (!EVP_EncryptInit_ex(self->ctx, NULL, NULL, NULL, iv)) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL refused the IV");
        return NULL;
    }
    content = header_len + PyBytes_GET_SIZE(middle) + cipher_len + PyBytes_GET_SIZE(tail);
    lead[0] = 0x30;
    lead_len = 1 + put_length(lead + 1, content);
    result = PyBytes_FromStringAndSize(NULL, lead_len + content);
    if (result == NULL)
        return NULL;
    out = (unsigned char *)PyBytes_AS_STRING(result);
    memcpy(out, lead, lead_len);
    out = (unsigned char *)copy_pieces((char *)out + lead_len, header);
    memcpy(out, PyBytes_AS_STRING(middle), PyBytes_GET_SIZE(middle));
    sealed = out + PyBytes_GET_SIZE(middle);
    memcpy(sealed + cipher_len, PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail));
    memcpy(block_head, PyBytes_AS_STRING(before), PyBytes_GET_SIZE(before));
    for (i = 0; i < counter_len; i++)
        block_head[PyBytes_GET_SIZE(before) + counter_len - 1 - i] =
            i < 8 ? (unsigned char)(counter >> (8 * i)) : 0;
    memcpy(block_head + PyBytes_GET_SIZE(before) + counter_len, PyBytes_AS_STRING(after),
           PyBytes_GET_SIZE(after));
    if (cipher_len >= RELEASE_GIL_AT) {
        self->busy = 1; /* set and checked with the GIL held */
        Py_BEGIN_ALLOW_THREADS
        ok = encrypt_pieces(self->ctx, sealed, block_head, head_len, payload, (int)padding);
        Py_END_ALLOW_THREADS
        self->busy = 0;
    }
    else
        ok = encrypt_pieces(self->ctx, sealed, block_head, head_len, payload, (int)padding);
    if (!ok) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL AES-CBC failed");
        return NULL;
    }
    return result;
}

static PyMethodDef Sealer_methods[] = {
    {"seal", (PyCFunction)(void (*)(void))Sealer_seal, METH_FASTCALL, seal_doc},
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
