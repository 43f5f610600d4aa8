# cli_layering.cmake - test_cli_layering: no library includes a header of
# the command line (orchestrate/cli/). The CLI sits on top: it parses
# options, draws progress and maps PM_E* codes to exit codes; a library
# that included commands.h (or any other CLI header) would depend on it.
# Run as `cmake -DSRC=<source dir> -P cli_layering.cmake`; it fails
# naming each offending file and line.
cmake_minimum_required(VERSION 3.18)
if(NOT SRC)
  message(FATAL_ERROR "cli_layering.cmake: -DSRC=<source dir> is required")
endif()
file(GLOB cli_headers RELATIVE ${SRC}/orchestrate/cli
     ${SRC}/orchestrate/cli/*.h)
if(NOT cli_headers)
  message(FATAL_ERROR "no header in ${SRC}/orchestrate/cli: wrong SRC?")
endif()
file(GLOB_RECURSE lib_files
     ${SRC}/platform/*.c ${SRC}/platform/*.h
     ${SRC}/copyengine/*.c ${SRC}/copyengine/*.h
     ${SRC}/verify/*.c ${SRC}/verify/*.h
     ${SRC}/orchestrate/*.c ${SRC}/orchestrate/*.h
     ${SRC}/bench/*.c ${SRC}/bench/*.h)
set(bad "")
set(checked 0)
foreach(f IN LISTS lib_files)
  if(f MATCHES "/orchestrate/cli/")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]*)[\">].*"
                         "\\1" inc "${line}")
    get_filename_component(base "${inc}" NAME)
    if(inc MATCHES "(^|/)cli/" OR base IN_LIST cli_headers)
      file(RELATIVE_PATH rel ${SRC} ${f})
      string(APPEND bad "  ${rel}: ${line}\n")
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "library files include a CLI header "
          "(orchestrate/cli/: ${cli_headers}):\n${bad}")
endif()
message(STATUS "${checked} library files checked; none includes a CLI "
        "header (${cli_headers})")
