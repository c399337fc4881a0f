/* web_assets.h — the files of web/ compiled into the binary by the build
 * (cmake/web.cmake): each as written and gzip-compressed, with its content
 * type and ETag. src/server/demo.c serves them. */
#ifndef SG_WEB_ASSETS_H
#define SG_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/demo.js" */
    const char *content_type;
    const unsigned char *data; /* NUL-terminated for text files */
    size_t len;
    const unsigned char *gzip;
    size_t gzip_len;
    const char *etag; /* quoted, as sent */
} sg_web_asset;

extern const sg_web_asset sg_web_assets[];
extern const int sg_web_n_assets;

/* The asset at `path`, or NULL. */
const sg_web_asset *sg_web_asset_find(const char *path);

#endif
