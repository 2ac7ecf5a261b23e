import type { Reply } from "./FakeHttp.ts"

/** Mailchimp's `application/problem+json` answer, as FakeMailchimp builds it for each part of the fake. */
export type Problem = (status: number, title: string, detail: string, extra?: object) => Reply

/** The problem documents several parts of the fake answer, in Mailchimp's words. */
export const mailchimpProblems = (problem: Problem) => ({
  notFound: () => problem(404, "Resource Not Found", "The requested resource could not be found."),
  unvalidated: (errors: ReadonlyArray<{ readonly field: string; readonly message: string }>) =>
    problem(
      400,
      "Invalid Resource",
      "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
      { errors }
    ),
  jsonParseError: () => problem(400, "JSON Parse Error", "We encountered an unspecified JSON parsing error.")
})
