// Weight upload (int8 rows + scales, or f16) and the table of uploaded models.
#include "weights.cuh"
#include "cuda_check.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// Matrices multiplied in int8 on the GPU: q8, q8g32 and q8g32h without the file's f32_act mark
// (those and unquantized tensors go up as f16).
static int int8_on_gpu(const octet_tensor *t) { return octet_is_q8(t->dtype) && !t->act_f32; }

// Uploads the row-wise concatenation of parts (same width) as one matrix: int8 + scales when
// every part is int8 (one scale per row when all are q8; else one per 32 weights, a q8 part's
// row scale in each of its row's groups), else f16.
static int upload_mat(gpu_weights *w, dmat *d, const octet_tensor *const *parts, int np) {
    memset(d, 0, sizeof *d);
    int k = (int)parts[0]->cols, n = 0, q8 = 1, grouped = 0;
    for (int i = 0; i < np; i++) { n += (int)parts[i]->rows; q8 &= int8_on_gpu(parts[i]); grouped |= octet_is_q8_grouped(parts[i]->dtype); }
    grouped &= q8;
    d->n = n; d->k = k; d->kp = (k + QBLOCK - 1) / QBLOCK * QBLOCK; d->q8 = q8;
    int nb = d->kp / QBLOCK;
    size_t elt = q8 ? 1 : 2, bytes = (size_t)n * d->kp * elt, gbytes = grouped ? (size_t)n * nb * sizeof(float) : 0;
    uint8_t *h = (uint8_t *)calloc(bytes, 1);
    float *hs = (float *)malloc((size_t)n * sizeof(float)), *row = (float *)malloc((size_t)k * sizeof(float));
    float *hg = grouped ? (float *)calloc((size_t)n * nb, sizeof(float)) : NULL;
    int r0 = 0, rc = -1;
    if (!h || !hs || !row || (grouped && !hg)) { octet_set_error("out of memory uploading weights"); goto done; }
    for (int i = 0; i < np; i++) {
        const octet_tensor *t = parts[i];
        for (uint64_t r = 0; r < t->rows; r++) {
            size_t dr = (size_t)(r0 + r), dst = dr * d->kp;
            if (q8) {
                memcpy(h + dst, (const int8_t *)t->data + r * t->cols, (size_t)k);
                hs[dr] = grouped ? 1.0f : octet_tensor_q8_scale(t, r, 0);
                for (int b = 0; grouped && b * QBLOCK < k; b++) hg[dr * nb + b] = octet_tensor_q8_scale(t, r, (uint64_t)b * QBLOCK);
            } else {
                octet_tensor_row_f32(t, r, row);
                for (int j = 0; j < k; j++) ((uint16_t *)h)[dst + j] = octet_f32_to_f16(row[j]);
            }
        }
        r0 += (int)t->rows;
    }
    if (q8) {
        CK(cudaMalloc(&d->q, bytes));
        CK(cudaMemcpy(d->q, h, bytes, cudaMemcpyHostToDevice));
        CK(cudaMalloc(&d->s, (size_t)n * sizeof(float)));
        CK(cudaMemcpy(d->s, hs, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));
        if (grouped) {
            CK(cudaMalloc(&d->g, gbytes));
            CK(cudaMemcpy(d->g, hg, gbytes, cudaMemcpyHostToDevice));
        }
        w->bytes += bytes + (size_t)n * sizeof(float) + gbytes;
    } else {
        CK(cudaMalloc(&d->h, bytes));
        CK(cudaMemcpy(d->h, h, bytes, cudaMemcpyHostToDevice));
        w->bytes += bytes;
    }
    rc = 0;
fail:
done:
    free(h); free(hs); free(row); free(hg);
    return rc;
}

static void free_mat(dmat *d) { cudaFree(d->q); cudaFree(d->s); cudaFree(d->h); cudaFree(d->g); }

static float *upload_f32(gpu_weights *w, const float *v, size_t n) {
    float *d = NULL;
    if (cudaMalloc(&d, n * sizeof(float)) != cudaSuccess || cudaMemcpy(d, v, n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
        octet_set_error("cuda: cannot upload %zu floats", n);
        cudaFree(d);
        return NULL;
    }
    w->bytes += n * sizeof(float);
    return d;
}

// Concatenated q/k/v biases (zeros for a missing one), or NULL when the model has none.
static float *upload_qkv_bias(gpu_weights *w, const octet_layer *l) {
    if (!l->bq && !l->bk && !l->bv) return NULL;
    size_t dim = w->m->hp.dim, kvd = w->m->hp.kv_dim, n = dim + 2 * kvd;
    float *b = (float *)calloc(n, sizeof(float));
    if (!b) { octet_set_error("out of memory"); return NULL; }
    if (l->bq) memcpy(b, l->bq->data, dim * 4);
    if (l->bk) memcpy(b + dim, l->bk->data, kvd * 4);
    if (l->bv) memcpy(b + dim + kvd, l->bv->data, kvd * 4);
    float *d = upload_f32(w, b, n);
    free(b);
    return d;
}

static void free_weights(gpu_weights *w) {
    if (w->L) {
        for (uint32_t l = 0; l < w->m->hp.n_layers; l++) {
            dlayer *d = &w->L[l];
            free_mat(&d->qkv); free_mat(&d->o); free_mat(&d->gu); free_mat(&d->down);
            cudaFree(d->attn_norm); cudaFree(d->ffn_norm); cudaFree(d->bqkv);
        }
        free(w->L);
    }
    if (w->out.q != w->embd.q || w->out.h != w->embd.h) free_mat(&w->out);
    free_mat(&w->embd);
    cudaFree(w->out_norm); cudaFree(w->inv_freq);
    free(w);
}

static gpu_weights *upload_weights(const octet_model *m) {
    const octet_hparams *hp = &m->hp;
    gpu_weights *w = (gpu_weights *)calloc(1, sizeof *w);
    if (!w) { octet_set_error("out of memory"); return NULL; }
    w->m = m;
    if (!(w->L = (dlayer *)calloc(hp->n_layers, sizeof *w->L))) { octet_set_error("out of memory"); goto fail; }
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        const octet_layer *s = &m->layers[l];
        dlayer *d = &w->L[l];
        const octet_tensor *qkv[3] = {s->wq, s->wk, s->wv}, *gu[2] = {s->w_gate, s->w_up};
        if (upload_mat(w, &d->qkv, qkv, 3) || upload_mat(w, &d->o, &s->wo, 1) || upload_mat(w, &d->gu, gu, 2) ||
            upload_mat(w, &d->down, &s->w_down, 1))
            goto fail;
        if (!(d->attn_norm = upload_f32(w, (const float *)s->attn_norm->data, hp->dim)) ||
            !(d->ffn_norm = upload_f32(w, (const float *)s->ffn_norm->data, hp->dim)))
            goto fail;
        if ((s->bq || s->bk || s->bv) && !(d->bqkv = upload_qkv_bias(w, s))) goto fail;
    }
    if (upload_mat(w, &w->embd, &m->tok_embd, 1)) goto fail;
    if (m->output == m->tok_embd) w->out = w->embd;
    else if (upload_mat(w, &w->out, &m->output, 1)) goto fail;
    if (!(w->out_norm = upload_f32(w, (const float *)m->output_norm->data, hp->dim)) ||
        !(w->inv_freq = upload_f32(w, m->rope[0].inv_freq, hp->rope_dim / 2)))
        goto fail;
    return w;
fail:
    free_weights(w);
    return NULL;
}

// Uploaded models, each with its count of contexts. A model is only freed after its contexts,
// so an entry never outlives the model it points to.
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static gpu_weights *table;

gpu_weights *gpu_weights_acquire(const octet_model *m) {
    pthread_mutex_lock(&table_lock);
    gpu_weights *w = table;
    while (w && w->m != m) w = w->next;
    if (!w && (w = upload_weights(m))) { w->next = table; table = w; }
    if (w) w->refs++;
    pthread_mutex_unlock(&table_lock);
    return w;
}

void gpu_weights_release(gpu_weights *w) {
    if (!w) return;
    pthread_mutex_lock(&table_lock);
    if (--w->refs == 0) {
        gpu_weights **p = &table;
        while (*p != w) p = &(*p)->next;
        *p = w->next;
        free_weights(w);
    }
    pthread_mutex_unlock(&table_lock);
}
