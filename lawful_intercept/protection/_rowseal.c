/* Sealing the durable queue's rows (store.sealing) with AES-256-GCM, outside the GIL.
 *
 *     seal(nonce, aad, records) -> nonce | AES-GCM(len(r1) | r1 | len(r2) | r2 ...) | tag
 *     open(sealed, aad)         -> the plain text, or None if the tag does not verify
 *
 * Lengths are 4 octets, big-endian; the tag is 16 octets. The octets are those of
 * cryptography's AESGCM (nonce + AESGCM(key).encrypt(nonce, joined records, aad)), which the
 * tests check both ways. Python only takes the references and allocates the result: joining
 * the records, the cipher, and the page faults of a fresh buffer run with the GIL released,
 * so an MF's event loop goes on mediating while its store thread seals a commit.
 *
 * Keys: the key octets go straight into OpenSSL's key schedule (never copied here). Each call
 * works on its own copy of that context, made with the GIL held, so calls from several
 * threads never share cipher state; EVP_CIPHER_CTX_free cleanses every context when a call
 * ends and when the RowSealer is closed or collected.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define NONCE 12
#define TAG 16
#define PREFIX 4

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

/* Writes nonce | records, length-prefixed | tag into out, encrypting the records in place.
 * Runs without the GIL: records is a tuple of bytes the caller holds. 1 on success. */
static int
seal_into(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *nonce,
          const unsigned char *aad, int aad_len, PyObject *records, int total)
{
    unsigned char *body = out + NONCE, *at = body;
    Py_ssize_t i, n = PyTuple_GET_SIZE(records);
    int written;

    memcpy(out, nonce, NONCE);
    for (i = 0; i < n; i++) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        Py_ssize_t size = PyBytes_GET_SIZE(record);
        at[0] = (unsigned char)(size >> 24), at[1] = (unsigned char)(size >> 16);
        at[2] = (unsigned char)(size >> 8), at[3] = (unsigned char)size;
        memcpy(at + PREFIX, PyBytes_AS_STRING(record), (size_t)size);
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

PyDoc_STRVAR(seal_doc,
"seal(nonce, aad, records) -> bytes\n\n"
"nonce (12 octets) | AES-256-GCM of each record after its 4-octet big-endian length | tag\n"
"(16 octets), with aad as associated data. records: a sequence of bytes.");

static PyObject *
RowSealer_seal(RowSealer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer nonce = {0}, aad = {0};
    PyObject *records = NULL, *result = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    Py_ssize_t i, total = 0;
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
    for (i = 0; i < PyTuple_GET_SIZE(records); i++) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        if (!PyBytes_Check(record)) {
            PyErr_SetString(PyExc_TypeError, "records must be bytes");
            goto done;
        }
        if (PyBytes_GET_SIZE(record) > INT_MAX - NONCE - TAG - PREFIX - total) {
            PyErr_SetString(PyExc_ValueError, "records too long for one row");
            goto done;
        }
        total += PREFIX + PyBytes_GET_SIZE(record);
    }
    ctx = call_context(self);
    if (ctx == NULL)
        goto done;
    result = PyBytes_FromStringAndSize(NULL, NONCE + total + TAG);
    if (result == NULL)
        goto done;
    Py_BEGIN_ALLOW_THREADS
    ok = seal_into(ctx, (unsigned char *)PyBytes_AS_STRING(result),
                   (const unsigned char *)nonce.buf, (const unsigned char *)aad.buf,
                   (int)aad.len, records, (int)total);
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL AES-GCM sealing failed");
    }
done:
    EVP_CIPHER_CTX_free(ctx);
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

PyDoc_STRVAR(open_doc,
"open(sealed, aad) -> bytes | None\n\n"
"The plain text of what seal() made with this key and aad; None if it does not authenticate\n"
"(tampered, cut, moved to another aad, or sealed under another key).");

static PyObject *
RowSealer_open(RowSealer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer sealed = {0}, aad = {0};
    PyObject *result = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
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
    Py_BEGIN_ALLOW_THREADS
    ok = open_into(ctx, (unsigned char *)PyBytes_AS_STRING(result),
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
    {"seal", (PyCFunction)(void (*)(void))RowSealer_seal, METH_FASTCALL, seal_doc},
    {"open", (PyCFunction)(void (*)(void))RowSealer_open, METH_FASTCALL, open_doc},
    {"close", (PyCFunction)RowSealer_close, METH_NOARGS,
     PyDoc_STR("Forget the key (OpenSSL cleanses its schedule); later calls raise.")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RowSealerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lawful_intercept.store._rowseal.RowSealer",
    .tp_doc = PyDoc_STR("AES-256-GCM sealing of queue rows under one key, outside the GIL."),
    .tp_basicsize = sizeof(RowSealer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RowSealer_init,
    .tp_dealloc = (destructor)RowSealer_dealloc,
    .tp_methods = RowSealer_methods,
};

static struct PyModuleDef rowseal_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.store._rowseal",
    .m_doc = PyDoc_STR("Native sealing of the durable queue's rows (see store.sealing)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__rowseal(void)
{
    PyObject *module;
    if (PyType_Ready(&RowSealerType) < 0)
        return NULL;
    module = PyModule_Create(&rowseal_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&RowSealerType);
    if (PyModule_AddObject(module, "RowSealer", (PyObject *)&RowSealerType) < 0) {
        Py_DECREF(&RowSealerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
