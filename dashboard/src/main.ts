import "./chart.ts";
import "./report-view.ts";
import "./app.ts";
