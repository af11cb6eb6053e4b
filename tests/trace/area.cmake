# udrm-trace-plot (tools/trace-plot) on a timeline the framework writes: the soc run of
# tests/trace with UDRM_TRACE set (a fixture), then the tool on its file. The tool's own unit
# tests are in tools/trace-plot.
if(TARGET udrm_test_trace AND TARGET udrm-trace-plot)
  set(_dir ${CMAKE_CURRENT_BINARY_DIR}/trace-plot)
  file(MAKE_DIRECTORY ${_dir})
  add_test(NAME trace_plot.record_soc
           COMMAND udrm_test_trace --gtest_filter=Drivers/TimelineTest.CommitsUnbindLastClose/soc_hdmi)
  set_tests_properties(trace_plot.record_soc PROPERTIES LABELS trace FIXTURES_SETUP udrm_trace_soc
                       ENVIRONMENT "UDRM_TRACE=${_dir}/soc.json")
  # The simulated soc run: 6 tracks (device, updates, two CRTCs, the irq, the file), the six
  # commit spans and their phases, the devm/drmm/vblank instants; the whole run in the window.
  add_test(NAME trace_plot.draw_soc COMMAND udrm-trace-plot --no-render ${_dir}/soc.json ${_dir}/soc.png)
  set_tests_properties(trace_plot.draw_soc PROPERTIES LABELS trace FIXTURES_REQUIRED udrm_trace_soc
                       PASS_REGULAR_EXPRESSION "6 tracks, [1-9][0-9]+ spans, [1-9][0-9]+ instants, 0\\.000\\.\\.")
  # Around the unbind: the device track, the CRTC with the shutdown commit.
  add_test(NAME trace_plot.draw_soc_unbind
           COMMAND udrm-trace-plot --no-render --around "unbind " --span 2 ${_dir}/soc.json ${_dir}/soc-unbind.png)
  set_tests_properties(trace_plot.draw_soc_unbind PROPERTIES LABELS trace FIXTURES_REQUIRED udrm_trace_soc
                       PASS_REGULAR_EXPRESSION "[2-9] tracks, [1-9][0-9]* spans")
endif()
