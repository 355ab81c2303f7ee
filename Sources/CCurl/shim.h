// libcurl 7.88 (OpenSSL flavour), owned by the TesseraStorage target.
// curl_easy_setopt/getinfo are variadic and cannot be called from Swift: typed wrappers live here, one per
// argument type, so Swift passes exactly what each option expects (long, curl_off_t, pointer, callback).
#include <curl/curl.h>

static inline CURLcode tessera_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode tessera_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }

// Callbacks: typed so Swift can pass @convention(c) closures (function pointers are not `void *`).
typedef size_t (*tessera_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*tessera_curl_seek_callback)(void *context, curl_off_t offset, int origin);
typedef int (*tessera_curl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode tessera_curl_setopt_data_callback(CURL *h, CURLoption o, tessera_curl_data_callback f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode tessera_curl_setopt_seek_callback(CURL *h, tessera_curl_seek_callback f) { return curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, f); }
static inline CURLcode tessera_curl_setopt_progress_callback(CURL *h, tessera_curl_progress_callback f) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, f); }

// Macros that do not import into Swift.
static inline size_t tessera_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline int tessera_curl_seekfunc_ok(void) { return CURL_SEEKFUNC_OK; }
static inline int tessera_curl_seekfunc_cantseek(void) { return CURL_SEEKFUNC_CANTSEEK; }
