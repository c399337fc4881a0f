# cmake/web.cmake — the web demo's files (web/*) compiled into the binary.
#
# sg_embed_web(TARGET) adds a generated C file to TARGET: every file under
# web/ as two byte arrays (as written, and gzip-compressed at build time) with
# its content type and an ETag (a SHA-256 prefix of the bytes), declared by
# src/server/web_assets.h. Editing a file under web/ regenerates it on the
# next `make`; nothing is fetched and no tool beyond CMake runs.
set(SG_WEB_GEN ${CMAKE_CURRENT_LIST_DIR}/web_gen.cmake)

function(sg_embed_web target)
  file(GLOB web_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/*)
  set(out ${CMAKE_BINARY_DIR}/generated/sg_web_assets.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${CMAKE_SOURCE_DIR}/web -DOUT=${out}
            -DWORK=${CMAKE_BINARY_DIR}/generated/web -P ${SG_WEB_GEN}
    DEPENDS ${web_files} ${SG_WEB_GEN}
    COMMENT "Embedding web/ (gzip, ETag)"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
